// object->rb_memq (vm_object.h, vm_page_rb_tree in vm_page.c): an object's resident pages by
// page index, the structure behind vm_page_lookup, vm_page_insert and vm_page_remove and the
// in-order scans of vm_object_terminate, vm_object_page_remove and vm_object_collapse.
//
// DragonFly keeps a red-black tree; here it is a radix tree of 64-way nodes in one flat buffer
// of words, addressed by node index (`height` levels cover indexes below 64^height). A lookup
// is `height` array reads with no hashing, an in-order scan is a walk of the nodes, and a dense
// object costs about 8 bytes per resident page. Leaf slots hold the page's record pointer (a
// VMPage): every record lives as long as the machine (PhysicalMemory keeps it, see VMPage.swift).

/// The resident pages of one object, keyed by pindex (an rb_memq).
struct ObjectPageTree: ~Copyable {
    /// Children per node (6 index bits per level).
    private static let fanout = 64
    private static let bitsPerLevel: UInt64 = 6

    /// Node `i` is words `i*64 ..< i*64+64`; a slot is 0 when empty, else a child's node index
    /// plus one (interior levels: the root may be node 0) or a page's record pointer bits (the
    /// leaf level).
    private var words: UnsafeMutablePointer<UInt>?
    private var capacityNodes = 0
    private var usedNodes = 0
    private var root = 0
    /// Levels below the root, the root included; 0 for an empty tree.
    private var height = 0
    /// resident_page_count
    private(set) var count = 0

    init() {}

    deinit { words?.deallocate() }

    var isEmpty: Bool { count == 0 }

    /// The largest index `height` levels can hold, plus one (saturating at 2^64).
    @inline(__always)
    private static func span(_ height: Int) -> UInt64 {
        let bits = UInt64(height) &* bitsPerLevel
        return bits >= 64 ? UInt64.max : UInt64(1) << bits
    }

    @inline(__always)
    private static func slotIndex(_ key: UInt64, level: Int) -> Int {
        Int(truncatingIfNeeded: (key >> (UInt64(level) &* bitsPerLevel)) & UInt64(fanout - 1))
    }

    /// vm_page_lookup
    @inline(__always)
    func lookup(_ pindex: Int64) -> VMPage? {
        let key = UInt64(bitPattern: pindex)
        guard let words, height > 0, height >= 11 || key < ObjectPageTree.span(height) else { return nil }
        var node = root
        var level = height &- 1
        while level > 0 {
            let child = words[node &* ObjectPageTree.fanout &+ ObjectPageTree.slotIndex(key, level: level)]
            if child == 0 { return nil }
            node = Int(bitPattern: child) &- 1
            level &-= 1
        }
        let bits = words[node &* ObjectPageTree.fanout &+ ObjectPageTree.slotIndex(key, level: 0)]
        guard let record = UnsafeMutablePointer<PageRecord>(bitPattern: bits) else { return nil }
        return VMPage(record: record)
    }

    /// A zeroed node; its index.
    private mutating func allocateNode() -> Int {
        if usedNodes == capacityNodes {
            let newCapacity = max(4, capacityNodes * 2)
            let grown = UnsafeMutablePointer<UInt>.allocate(capacity: newCapacity * ObjectPageTree.fanout)
            if let words {
                grown.moveInitialize(from: words, count: usedNodes * ObjectPageTree.fanout)
                words.deallocate()
            }
            words = grown
            capacityNodes = newCapacity
        }
        let node = usedNodes
        usedNodes += 1
        (words.unsafelyUnwrapped + node * ObjectPageTree.fanout).initialize(repeating: 0, count: ObjectPageTree.fanout)
        return node
    }

    /// vm_page_insert's tree half: `page` at `pindex` (the slot must be empty).
    mutating func insert(_ page: VMPage, at pindex: Int64) {
        let key = UInt64(bitPattern: pindex)
        if height == 0 {
            root = allocateNode()
            height = 1
        }
        // Grow at the top until the index fits: the old root becomes slot 0 of a new root.
        while height < 11 && key >= ObjectPageTree.span(height) {
            let newRoot = allocateNode()
            words.unsafelyUnwrapped[newRoot * ObjectPageTree.fanout] = UInt(bitPattern: root + 1)
            root = newRoot
            height += 1
        }
        var node = root
        var level = height - 1
        while level > 0 {
            let slot = node * ObjectPageTree.fanout + ObjectPageTree.slotIndex(key, level: level)
            var child = Int(bitPattern: words.unsafelyUnwrapped[slot]) - 1
            if child < 0 {
                child = allocateNode()
                words.unsafelyUnwrapped[slot] = UInt(bitPattern: child + 1)
            }
            node = child
            level -= 1
        }
        let slot = node * ObjectPageTree.fanout + ObjectPageTree.slotIndex(key, level: 0)
        assert(words.unsafelyUnwrapped[slot] == 0, "vm_page_insert: index already holds a page")
        words.unsafelyUnwrapped[slot] = UInt(bitPattern: page.record)
        count += 1
    }

    /// vm_page_remove's tree half. When the last page goes, so do the nodes.
    mutating func remove(at pindex: Int64) {
        let key = UInt64(bitPattern: pindex)
        guard let words, height > 0, height >= 11 || key < ObjectPageTree.span(height) else { return }
        var node = root
        var level = height - 1
        while level > 0 {
            let child = words[node * ObjectPageTree.fanout + ObjectPageTree.slotIndex(key, level: level)]
            if child == 0 { return }
            node = Int(bitPattern: child) - 1
            level -= 1
        }
        let slot = node * ObjectPageTree.fanout + ObjectPageTree.slotIndex(key, level: 0)
        guard words[slot] != 0 else { return }
        words[slot] = 0
        count -= 1
        if count == 0 {
            words.deallocate()
            self.words = nil
            capacityNodes = 0
            usedNodes = 0
            root = 0
            height = 0
        }
    }

    /// The pages with `start <= pindex < end`, in index order; none when `end <= start`. A copy:
    /// callers free and rename pages while they go through it, as the RB_SCANs do. (Indexes are
    /// never negative: objects are indexed from 0, and the callers clip negative bounds to 0.)
    func pages(from start: Int64, to end: Int64) -> [VMPage] {
        var result: [VMPage] = []
        guard let words, height > 0, end > max(start, 0) else { return result }
        result.reserveCapacity(min(count, 1 << 16))
        collect(words, node: root, level: height - 1, base: 0,
                UInt64(max(start, 0)), UInt64(end), into: &result)
        return result
    }

    /// Every page, in index order.
    var allPages: [VMPage] { pages(from: 0, to: Int64.max) }

    private func collect(_ words: UnsafeMutablePointer<UInt>, node: Int, level: Int, base: UInt64,
                         _ low: UInt64, _ high: UInt64, into result: inout [VMPage])
    {
        let shift = UInt64(level) * ObjectPageTree.bitsPerLevel
        for i in 0 ..< ObjectPageTree.fanout {
            let value = words[node * ObjectPageTree.fanout + i]
            if value == 0 { continue }
            let start = base | (UInt64(i) << shift)
            // Slot i covers start ..< start + 2^shift.
            let last = shift >= 64 ? UInt64.max : start | ((UInt64(1) << shift) - 1)
            if last < low { continue }
            if start >= high { return }
            if level == 0 {
                result.append(VMPage(record: UnsafeMutablePointer(bitPattern: value).unsafelyUnwrapped))
            } else {
                collect(words, node: Int(bitPattern: value) - 1, level: level - 1, base: start, low, high, into: &result)
            }
        }
    }
}
