// Runs of accesses to one page: most accesses of a real program touch the page the previous
// access of the same process touched (72% of the benchmark trace's). A replay engine can
// account for such a run in one step once its first access has gone through — provided that
// nothing else happened in between — so the decoding side marks the runs once for every
// engine (docs/performance.md).

/// Which events of a batch continue a run of accesses to one page.
///
/// A run starts at an access that stays within one page and continues with the accesses right
/// after it that are by the same process, stay within the same page and are of a kind the
/// success of the access right before vouches for (`AccessRunMap.vouches`; transitive, so any
/// member vouches for every member after it: an engine may resume the run from any of them). Bit `i` is set when event `i`
/// continues the run of the event before it. Runs never span two batches. A decoder may leave
/// a run unmarked (every bit clear is always correct); it never marks an event that does not
/// continue a run.
public struct AccessRunMap: Sendable {
    /// One bit per event, 64 to a word.
    public private(set) var words: [UInt64] = []
    /// The number of events the map covers.
    public private(set) var count = 0

    public init() {}

    /// Whether an access of `kind` that succeeded means an access of `follower` to the same
    /// page, in the same mode, would succeed as well with no more rights than the first one
    /// showed: the same kind, or a read after a write (a writable x86 mapping is readable, and
    /// a write sets the dirty bit a repeated write would need). Peeks and pokes go through the
    /// kernel (vm_fault_page), not the MMU, and never form runs.
    @inline(__always)
    public static func vouches(_ kind: AccessKind, for follower: AccessKind) -> Bool {
        if kind == follower { return kind != .peek && kind != .poke }
        return (kind == .write && follower == .read) || (kind == .kernelWrite && follower == .kernelRead)
    }

    /// Whether an access may start a run: it stays within one page and goes through the MMU.
    @inline(__always)
    static func canStartRun(_ kind: AccessKind, address: UInt64, size: UInt32) -> Bool {
        (address & (tracePageSize - 1)) &+ UInt64(size) <= tracePageSize && kind != .peek && kind != .poke
    }

    /// Replaces the map with `count` events' bits from `bits`.
    mutating func load(_ bits: UnsafePointer<UInt64>, count: Int) {
        let n = (count + 63) / 64
        words.removeAll(keepingCapacity: true)
        words.append(contentsOf: UnsafeBufferPointer(start: bits, count: n))
        self.count = count
    }

    /// Marks the runs of `events` (for decoders that do not mark them as they go).
    public mutating func mark(_ events: [TraceEvent]) {
        mark(count: events.count) { i in
            if case .access(let a) = events[i] { return a }
            return nil
        }
    }

    /// Marks the runs of `count` events, `access(i)` giving event `i` if it is an access.
    @inline(__always)
    mutating func mark(count: Int, _ access: (Int) -> Access?) {
        self.count = count
        words.removeAll(keepingCapacity: true)
        words.append(contentsOf: repeatElement(0, count: (count + 63) / 64))
        var open = false
        var pid: UInt32 = 0
        var page: UInt64 = 0
        var kind = AccessKind.read
        for i in 0..<count {
            guard let a = access(i) else {
                open = false
                continue
            }
            let startsRun = AccessRunMap.canStartRun(a.kind, address: a.address, size: a.size)
            if open && startsRun && a.pid == pid && a.address / tracePageSize == page
                && AccessRunMap.vouches(kind, for: a.kind)
            {
                words[i >> 6] |= 1 << UInt64(i & 63)
            } else {
                open = startsRun
                pid = a.pid
                page = a.address / tracePageSize
            }
            // Each member is vouched for by the one right before it, not by the run's first:
            // an engine resumes a run from any member (the member after a failed access is
            // applied on its own and vouches for the rest), so every member must vouch for
            // all that follow it. `vouches` is transitive, so the chain rule gives that.
            kind = a.kind
        }
    }

    /// How many events right after event `i` continue its run (0 if none), looked up in
    /// `words` a word at a time.
    @inlinable @inline(__always)
    public static func runLength(after i: Int, in words: UnsafeBufferPointer<UInt64>, count: Int) -> Int {
        var j = i &+ 1
        var length = 0
        while j < count {
            let shift = UInt64(j & 63)
            let ones = (~(words[j >> 6] >> shift)).trailingZeroBitCount
            length &+= ones
            j &+= ones
            // Fewer ones than bits left in the word: the run ended inside it.
            if ones < 64 &- Int(shift) { break }
        }
        return min(length, count &- i &- 1)
    }
}
