// `info` at replay speed (issue 17: it took 11 s where a replay takes 4): the statistics read
// the packed batches a replay decodes, on their own thread, and skip the page set for pages
// they have just seen.

/// A small direct-mapped memory of (pid, page) pairs already counted: Lackey traces alternate
/// between a code page and a few data pages, so most accesses hit a page seen a moment ago and
/// need no hash-set insert.
struct RecentPages {
    private var slots = [UInt64](repeating: .max, count: 256)
    private var owners = [UInt32](repeating: 0, count: 256)

    /// True if (pid, page) was noted recently (then nothing to do); else notes it.
    @inline(__always)
    mutating func seen(_ pid: UInt32, _ page: UInt64) -> Bool {
        let i = Int(truncatingIfNeeded: (page ^ (page >> 8) ^ UInt64(pid) &* 0x9E37) & 255)
        if slots[i] == page && owners[i] == pid { return true }
        slots[i] = page
        owners[i] = pid
        return false
    }
}

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
