// A set of page numbers held as ranges, for `info`'s distinct-page count: memory follows the
// number of separate ranges touched, not their size (a set of pages took 813 MB and 16 s for
// 20 reads of 4 GiB; now 20 ranges).

/// Page numbers as sorted, disjoint, non-adjacent closed ranges. Insertions go to a pending
/// list (a run of touching or overlapping insertions coalesces there) that is sorted and merged
/// in when it grows as long as the merged list, so an insertion costs O(log n) amortised.
struct PageRangeSet {
    private var merged: [ClosedRange<UInt64>] = []
    private var pending: [ClosedRange<UInt64>] = []

    /// Page numbers stay below 2^52 (addresses are 64-bit, pages 4 KiB), so `+ 1` cannot wrap.
    mutating func insert(_ range: ClosedRange<UInt64>) {
        if let last = pending.last, range.lowerBound <= last.upperBound + 1, last.lowerBound <= range.upperBound + 1 {
            pending[pending.count - 1] = min(last.lowerBound, range.lowerBound)...max(last.upperBound, range.upperBound)
            return
        }
        pending.append(range)
        if pending.count >= max(4096, merged.count) { mergePending() }
    }

    private mutating func mergePending() {
        guard !pending.isEmpty else { return }
        pending.sort { $0.lowerBound < $1.lowerBound }
        var out: [ClosedRange<UInt64>] = []
        out.reserveCapacity(merged.count + pending.count)
        var i = 0, j = 0
        while i < merged.count || j < pending.count {
            let next: ClosedRange<UInt64>
            if j == pending.count || (i < merged.count && merged[i].lowerBound <= pending[j].lowerBound) {
                next = merged[i]
                i += 1
            } else {
                next = pending[j]
                j += 1
            }
            if let last = out.last, next.lowerBound <= last.upperBound + 1 {
                out[out.count - 1] = last.lowerBound...max(last.upperBound, next.upperBound)
            } else {
                out.append(next)
            }
        }
        merged = out
        pending.removeAll(keepingCapacity: true)
    }

    /// The set as sorted, disjoint, non-adjacent ranges.
    func normalized() -> [ClosedRange<UInt64>] {
        var copy = self
        copy.mergePending()
        return copy.merged
    }
}
