// `info` at replay speed (issue 17: it took 11 s where a replay takes 4): the statistics read
// the packed batches a replay decodes, on their own thread, access by access without making a
// `TraceEvent`; pages are kept per process as chunk bits and ranges (ProcessPages), so
// memory follows the touched regions, not the pages.

extension TraceStatistics {
    /// Adds every event of a packed batch.
    public mutating func add(_ batch: ReplayBatch) {
        let others = batch.others
        let records = batch.records
        var counts = accessCounts
        counts.withUnsafeMutableBufferPointer { counts in
            for r in records {
                if r.isAccess {
                    addAccess(kind: r.kindValue, pid: r.pid, address: r.address, size: r.size, counts: counts)
                } else if case .access(let a) = others[Int(truncatingIfNeeded: r.address)] {
                    // Too large to pack: counted here, into the batch's counts.
                    addAccess(kind: a.kind.rawValue, pid: a.pid, address: a.address, size: a.size, counts: counts)
                } else {
                    add(others[Int(truncatingIfNeeded: r.address)])
                }
            }
        }
        accessCounts = counts
    }
}
