// The importer's picture of one process's mappings: what its mmap/munmap/mprotect/brk/mremap
// calls (and the startup layout) have made of the address space. It decides which accesses
// land outside every mapping, and gives mremap the attributes of the mapping it moves.
import VMTrace

/// One mapping: page-aligned `[start, end)`.
struct LackeyRegion: Equatable {
    var start: UInt64
    var end: UInt64
    var protection: Protection
    var shared: Bool = false
    /// The declared file, nil for anonymous memory.
    var fileID: UInt32? = nil
    /// File offset of `start`.
    var offset: UInt64 = 0
    /// Made with the trace's `stack` flag: `[start, end)` is the most the stack may reach.
    var stack: Bool = false

    /// The part `[from, to)` of this region, with the file offset moved along.
    func slice(_ from: UInt64, _ to: UInt64) -> LackeyRegion {
        var r = self
        r.start = from
        r.end = to
        if fileID != nil { r.offset = offset + (from - start) }
        return r
    }
}

/// A sorted list of non-overlapping regions.
final class LackeyAddressSpace {
    private(set) var regions: [LackeyRegion] = []
    /// The bounds of the region the last lookup found (a one-entry cache for runs of accesses).
    private var hitStart: UInt64 = 1
    private var hitEnd: UInt64 = 0

    init() {}

    func copy() -> LackeyAddressSpace {
        let c = LackeyAddressSpace()
        c.regions = regions
        return c
    }

    func removeAll() {
        regions.removeAll()
        forget()
    }

    private func forget() {
        hitStart = 1
        hitEnd = 0
    }

    /// The index of the first region ending above `address`.
    private func firstIndex(endingAbove address: UInt64) -> Int {
        var lo = 0, hi = regions.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if regions[mid].end <= address { lo = mid + 1 } else { hi = mid }
        }
        return lo
    }

    /// The region containing `address`.
    func region(containing address: UInt64) -> LackeyRegion? {
        let i = firstIndex(endingAbove: address)
        guard i < regions.count, regions[i].start <= address else { return nil }
        return regions[i]
    }

    /// Whether `address` is inside a mapping.
    @inline(__always)
    func contains(_ address: UInt64) -> Bool {
        if address >= hitStart && address < hitEnd { return true }
        let i = firstIndex(endingAbove: address)
        guard i < regions.count, regions[i].start <= address else { return false }
        hitStart = regions[i].start
        hitEnd = regions[i].end
        return true
    }

    /// Removes `[start, end)` from every mapping (splitting the ones that straddle it).
    func unmap(_ start: UInt64, _ end: UInt64) {
        guard start < end else { return }
        forget()
        var i = firstIndex(endingAbove: start)
        var replacement: [LackeyRegion] = []
        let first = i
        while i < regions.count && regions[i].start < end {
            let r = regions[i]
            if r.start < start { replacement.append(r.slice(r.start, start)) }
            if r.end > end { replacement.append(r.slice(end, r.end)) }
            i += 1
        }
        regions.replaceSubrange(first..<i, with: replacement)
    }

    /// Maps `region`, replacing whatever was there (MAP_FIXED).
    func map(_ region: LackeyRegion) {
        guard region.start < region.end else { return }
        unmap(region.start, region.end)
        regions.insert(region, at: firstIndex(endingAbove: region.start))
    }

    /// Changes the protection of the mapped parts of `[start, end)`.
    func protect(_ start: UInt64, _ end: UInt64, _ protection: Protection) {
        guard start < end else { return }
        forget()
        var i = firstIndex(endingAbove: start)
        while i < regions.count && regions[i].start < end {
            let r = regions[i]
            var pieces: [LackeyRegion] = []
            if r.start < start { pieces.append(r.slice(r.start, start)) }
            var middle = r.slice(max(r.start, start), min(r.end, end))
            middle.protection = protection
            pieces.append(middle)
            if r.end > end { pieces.append(r.slice(end, r.end)) }
            regions.replaceSubrange(i...i, with: pieces)
            i += pieces.count
        }
    }

    /// The unmapped parts of `[start, end)`, in address order.
    func holes(_ start: UInt64, _ end: UInt64) -> [Range<UInt64>] {
        var holes: [Range<UInt64>] = []
        var cursor = start
        var i = firstIndex(endingAbove: start)
        while cursor < end {
            if i < regions.count && regions[i].start < end {
                let r = regions[i]
                if r.start > cursor { holes.append(cursor..<r.start) }
                cursor = max(cursor, r.end)
                i += 1
            } else {
                holes.append(cursor..<end)
                cursor = end
            }
        }
        return holes
    }

    /// The end of the last mapping below `address` (0 if none).
    func end(below address: UInt64) -> UInt64 {
        let i = firstIndex(endingAbove: address)
        return i == 0 ? 0 : regions[i - 1].end
    }
}
