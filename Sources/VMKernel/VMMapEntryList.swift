// The map's entries in address order. DragonFly keeps them in a red-black tree (vm_map_rb_tree)
// threaded by a list; the engine addresses them by position (clipping inserts next to an entry,
// simplify removes its neighbours, a range is a run of positions), so this is an ordered
// sequence with cheap insertion anywhere: a B+ tree of height two. Entries sit in leaves of at
// most `leafCapacity`; a Fenwick tree over the leaf sizes turns a position into (leaf, offset)
// in O(log leaves). Inserting or removing costs a move of at most one leaf plus O(log leaves),
// and a leaf split or an emptied leaf rebuilds the leaf index (O(leaves), once per
// `leafCapacity / 2` insertions at the least), so a million mmaps in any order stay
// O(n log n) instead of the O(n^2) of one sorted array. Address searches binary-search the
// leaves by their first entry's start, read live from the entry (entries are classes whose
// bounds clipping changes in place; the order never changes), then the leaf.

/// An ordered sequence of map entries with O(log n) access, insertion and removal by position.
public struct VMMapEntryList: RandomAccessCollection {
    static let leafCapacity = 256

    private var leaves: [[VMMapEntry]] = []
    /// Fenwick (binary indexed) tree over `leaves[i].count`, 1-based.
    private var tree: [Int] = [0]
    public private(set) var count = 0
    /// Bumped by every insertion and removal: a position remembered under one generation still
    /// names the same entry while the generation is unchanged (VMMap's lookup hint).
    public private(set) var generation: UInt64 = 0

    public init() {}

    public var startIndex: Int { 0 }
    public var endIndex: Int { count }

    public subscript(position: Int) -> VMMapEntry {
        let (leaf, offset) = locate(position)
        return leaves[leaf][offset]
    }

    public mutating func append(_ entry: VMMapEntry) { insert(entry, at: count) }

    public mutating func insert(_ entry: VMMapEntry, at position: Int) {
        precondition(position >= 0 && position <= count, "VMMapEntryList: insert position out of range")
        generation &+= 1
        if leaves.isEmpty {
            leaves = [[entry]]
            rebuildIndex()
            count = 1
            return
        }
        // The end of the sequence goes into the last leaf.
        let (leaf, offset) = position == count ? (leaves.count - 1, leaves[leaves.count - 1].count) : locate(position)
        leaves[leaf].insert(entry, at: offset)
        count += 1
        if leaves[leaf].count > VMMapEntryList.leafCapacity {
            let upper = Array(leaves[leaf][(VMMapEntryList.leafCapacity / 2)...])
            leaves[leaf].removeSubrange((VMMapEntryList.leafCapacity / 2)...)
            leaves.insert(upper, at: leaf + 1)
            rebuildIndex()
        } else {
            add(1, toLeaf: leaf)
        }
    }

    @discardableResult
    public mutating func remove(at position: Int) -> VMMapEntry {
        precondition(position >= 0 && position < count, "VMMapEntryList: remove position out of range")
        generation &+= 1
        let (leaf, offset) = locate(position)
        let entry = leaves[leaf].remove(at: offset)
        count -= 1
        if leaves[leaf].isEmpty {
            leaves.remove(at: leaf)
            rebuildIndex()
        } else {
            add(-1, toLeaf: leaf)
        }
        return entry
    }

    /// Removes the entries at `range` (back to front, so each removal is one leaf's move).
    public mutating func removeSubrange(_ range: Range<Int>) {
        for position in range.reversed() { remove(at: position) }
    }

    public mutating func removeAll() {
        generation &+= 1
        leaves = []
        tree = [0]
        count = 0
    }

    /// Position of the first entry whose end is above `va` (`count` if none): the entry
    /// containing `va`, or the one after the hole it falls in.
    public func firstIndex(endingAbove va: UInt64) -> Int {
        // The last leaf whose first entry starts at or below va; entries before it end at or
        // below its first start, so the answer is in it or at the start of the next leaf.
        var lo = 0
        var hi = leaves.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if leaves[mid][0].start <= va { lo = mid + 1 } else { hi = mid }
        }
        let leaf = lo - 1
        guard leaf >= 0 else { return 0 }
        let entries = leaves[leaf]
        var a = 0
        var b = entries.count
        while a < b {
            let mid = (a + b) / 2
            if entries[mid].end <= va { a = mid + 1 } else { b = mid }
        }
        return prefix(leaf) + a
    }

    // MARK: the leaf index

    /// (leaf, offset in it) of `position` (< count): a Fenwick descent.
    private func locate(_ position: Int) -> (Int, Int) {
        var node = 0
        var remaining = position
        var step = 1
        while step * 2 < tree.count { step *= 2 }
        while step > 0 {
            let next = node + step
            if next < tree.count && tree[next] <= remaining {
                node = next
                remaining -= tree[next]
            }
            step /= 2
        }
        return (node, remaining) // node is the 0-based leaf: the count of leaves fully before
    }

    /// Entries in leaves 0..<leaf.
    private func prefix(_ leaf: Int) -> Int {
        var sum = 0
        var i = leaf
        while i > 0 {
            sum += tree[i]
            i -= i & -i
        }
        return sum
    }

    private mutating func add(_ delta: Int, toLeaf leaf: Int) {
        var i = leaf + 1
        while i < tree.count {
            tree[i] += delta
            i += i & -i
        }
    }

    private mutating func rebuildIndex() {
        tree = [Int](repeating: 0, count: leaves.count + 1)
        for (i, leaf) in leaves.enumerated() {
            let node = i + 1
            tree[node] += leaf.count
            let parent = node + (node & -node)
            if parent < tree.count { tree[parent] += tree[node] }
        }
    }
}
