// Figures about a trace for `vmreplay info`: counts by kind, processes, files, mapped bytes,
// accessed range and distinct pages.

extension TraceEvent {
    /// The event's keyword (`r`, `mmap`, `drop_caches`, ...).
    public var keyword: String {
        switch self {
        case .access(let a): return a.kind.keyword
        case .file: return "file"
        case .proc: return "proc"
        case .threads: return "threads"
        case .fork: return "fork"
        case .exec: return "exec"
        case .exit: return "exit"
        case .mmap: return "mmap"
        case .munmap: return "munmap"
        case .mprotect: return "mprotect"
        case .madvise: return "madvise"
        case .mlock: return "mlock"
        case .munlock: return "munlock"
        case .dropCaches: return "drop_caches"
        case .setmap: return "madvise"
        case .store: return "store"
        }
    }

    /// Every keyword of SPEC §1 in table order.
    public static let allKeywords = [
        "file", "proc", "threads", "fork", "exec", "exit", "mmap", "munmap", "mprotect", "madvise",
        "mlock", "munlock", "r", "w", "x", "kr", "kw", "peek", "poke", "drop_caches", "store",
    ]
}

/// Accumulates figures over a trace's events.
public struct TraceStatistics {
    /// Events by keyword (only keywords that occur).
    public private(set) var eventCounts: [String: UInt64] = [:]
    public private(set) var events: UInt64 = 0
    /// Accesses by kind, indexed by `AccessKind.rawValue`.
    public internal(set) var accessCounts = [UInt64](repeating: 0, count: AccessKind.allCases.count)
    /// Every pid declared by `proc` or `fork`, in order of appearance.
    public private(set) var pids: [UInt32] = []
    private var seenPids: Set<UInt32> = []
    public private(set) var files = 0
    /// Sum of `mmap` lengths.
    public private(set) var mappedBytes: UInt64 = 0
    /// Lowest and highest byte address any access touched.
    public var minAddress: UInt64? { accesses > 0 ? lowestAddress : nil }
    public var maxAddress: UInt64? { accesses > 0 ? highestAddress : nil }
    private var lowestAddress = UInt64.max
    private var highestAddress: UInt64 = 0
    /// The pages each process's accesses touched; the latest process's are kept out of the
    /// dictionary (`current`), so only a change of process looks one up.
    private var pages: [UInt32: ProcessPages] = [:]
    private var current = ProcessPages()
    private var currentPid: UInt32?
    /// The last page added (pid, page), to skip runs of accesses to one page.
    private var lastPid: UInt32 = 0
    private var lastPage = UInt64.max

    public init() {}

    public var accesses: UInt64 { accessCounts.reduce(0, +) }
    /// Distinct (process, 4 KiB page) pairs the accesses touched.
    public var distinctPages: Int {
        Int(clamping: pages.values.reduce(currentPid == nil ? 0 : current.count) { $0 &+ $1.count })
    }

    public mutating func add(_ event: TraceEvent) {
        switch event {
        case .access(let a):
            var counts = accessCounts
            counts.withUnsafeMutableBufferPointer { counts in
                addAccess(kind: a.kind.rawValue, pid: a.pid, address: a.address, size: a.size, counts: counts)
            }
            accessCounts = counts
            return
        case .proc(let pid, _), .fork(_, let pid):
            if seenPids.insert(pid).inserted { pids.append(pid) }
        case .file:
            files += 1
        case .mmap(let m):
            mappedBytes &+= m.length
        default:
            break
        }
        events += 1
        eventCounts[event.keyword, default: 0] += 1
    }

    /// An access (`counts`: `accessCounts`, held by the caller for a whole batch).
    @inline(__always)
    mutating func addAccess(kind: UInt8, pid: UInt32, address: UInt64, size: UInt32,
                            counts: UnsafeMutableBufferPointer<UInt64>) {
        events &+= 1
        counts[Int(kind)] &+= 1
        let last = address &+ UInt64(max(size, 1) &- 1)
        if address < lowestAddress { lowestAddress = address }
        if last > highestAddress { highestAddress = last }
        // An access that wraps past the top of the address space touches its first page
        // only, as before.
        let first = address / tracePageSize
        let lastPageNumber = max(first, last / tracePageSize)
        if pid != lastPid || first != lastPage || lastPageNumber != first {
            if pid != currentPid { switchProcess(to: pid) }
            current.insert(first, lastPageNumber)
            lastPid = pid
            lastPage = lastPageNumber
        }
    }

    /// Puts the current process's pages back and takes out `pid`'s.
    @inline(never)
    private mutating func switchProcess(to pid: UInt32) {
        if let previous = currentPid { pages[previous] = current }
        current = pages.removeValue(forKey: pid) ?? ProcessPages()
        currentPid = pid
    }

    /// Count of events with `keyword` (accesses included).
    public func count(_ keyword: String) -> UInt64 {
        if let kind = AccessKind.allCases.first(where: { $0.keyword == keyword }) {
            return accessCounts[Int(kind.rawValue)]
        }
        return eventCounts[keyword] ?? 0
    }
}
