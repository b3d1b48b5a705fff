// `info` at replay speed (issue 17: it took 11 s where a replay takes 4): the statistics read
// the packed batches a replay decodes, on their own thread; pages are kept as ranges per
// process (PageRangeSet), so memory follows the touched regions, not the pages.

extension TraceStatistics {
    /// Adds every event of a packed batch.
    public mutating func add(_ batch: ReplayBatch) {
        let others = batch.others
        for r in batch.records {
            if r.isAccess {
                add(.access(Access(kind: r.kind, pid: r.pid, address: r.address, size: r.size)))
            } else {
                add(others[Int(truncatingIfNeeded: r.address)])
            }
        }
    }
}
