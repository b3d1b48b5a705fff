// The distinct pages one process touched, exactly, for `info` (issue 17: info no slower than a
// replay). Small accesses (nearly all) set a bit in a hash table of 64-page chunks: one probe,
// no sorting. Accesses over more than two chunks go to ranges (PageRangeSet, issue 16 item 8),
// so a 4 GiB read is one range, not 16K chunks. Memory follows the 256 KiB regions small
// accesses touched plus the ranges large ones left; the count is the union of the two.

/// Bits of 64-page chunks in an open-addressing table (linear probing, at most half full).
struct ChunkBitmapTable {
    /// A chunk number (page >> 6, below 2^46; `empty` marks a free slot) and its pages' bits,
    /// side by side so a probe touches one cache line.
    struct Slot {
        var chunk: UInt64
        var bits: UInt64
    }

    private var slots: [Slot]
    private var shift: UInt64
    private var used = 0
    private static let empty = UInt64.max

    init() {
        slots = Array(repeating: Slot(chunk: ChunkBitmapTable.empty, bits: 0), count: 64)
        shift = 64 - 6
    }

    /// Sets `mask`'s bits in `chunk`.
    @inline(__always)
    mutating func set(chunk: UInt64, mask: UInt64) {
        let wrap = slots.count &- 1
        var i = Int(truncatingIfNeeded: (chunk &* 0x9E37_79B9_7F4A_7C15) >> shift)
        while true {
            let k = slots[i].chunk
            if k == chunk {
                slots[i].bits |= mask
                return
            }
            if k == ChunkBitmapTable.empty { break }
            i = (i &+ 1) & wrap
        }
        slots[i] = Slot(chunk: chunk, bits: mask)
        used &+= 1
        if used &* 2 > slots.count { grow() }
    }

    @inline(never)
    private mutating func grow() {
        let old = slots
        slots = Array(repeating: Slot(chunk: ChunkBitmapTable.empty, bits: 0), count: old.count * 2)
        shift -= 1
        used = 0
        for slot in old where slot.chunk != ChunkBitmapTable.empty { set(chunk: slot.chunk, mask: slot.bits) }
    }

    /// Calls `body` with every chunk and its bits, in no order.
    func forEach(_ body: (Slot) -> Void) {
        for slot in slots where slot.chunk != ChunkBitmapTable.empty { body(slot) }
    }
}

/// The distinct pages of one process: chunk bits for small accesses, ranges for large ones.
struct ProcessPages {
    private var chunks = ChunkBitmapTable()
    private var ranges = PageRangeSet()

    /// Adds pages `first...last`.
    @inline(__always)
    mutating func insert(_ first: UInt64, _ last: UInt64) {
        let firstChunk = first >> 6, lastChunk = last >> 6
        if firstChunk == lastChunk {
            chunks.set(chunk: firstChunk, mask: ProcessPages.mask(first & 63, last & 63))
        } else if firstChunk &+ 1 == lastChunk {
            chunks.set(chunk: firstChunk, mask: ProcessPages.mask(first & 63, 63))
            chunks.set(chunk: lastChunk, mask: ProcessPages.mask(0, last & 63))
        } else {
            ranges.insert(first...last)
        }
    }

    /// Bits `a...b` of a word (a <= b < 64).
    @inline(__always)
    static func mask(_ a: UInt64, _ b: UInt64) -> UInt64 {
        (UInt64.max >> (63 &- (b &- a))) << a
    }

    /// How many pages: every page in the ranges, plus the chunk bits no range covers.
    var count: UInt64 {
        let merged = ranges.normalized()
        var total = merged.reduce(0) { $0 &+ ($1.upperBound - $1.lowerBound + 1) }
        chunks.forEach { slot in
            let start = slot.chunk << 6, end = start | 63
            var left = slot.bits
            // The first range that ends at or after the chunk's first page (binary search).
            var lo = 0, hi = merged.count
            while lo < hi {
                let mid = (lo + hi) / 2
                if merged[mid].upperBound < start { lo = mid + 1 } else { hi = mid }
            }
            while lo < merged.count && merged[lo].lowerBound <= end {
                let first = max(merged[lo].lowerBound, start), last = min(merged[lo].upperBound, end)
                left &= ~ProcessPages.mask(first - start, last - start)
                lo += 1
            }
            total &+= UInt64(left.nonzeroBitCount)
        }
        return total
    }
}
