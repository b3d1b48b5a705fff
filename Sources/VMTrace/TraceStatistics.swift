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
    public private(set) var accessCounts = [UInt64](repeating: 0, count: AccessKind.allCases.count)
    /// Every pid declared by `proc` or `fork`, in order of appearance.
    public private(set) var pids: [UInt32] = []
    private var seenPids: Set<UInt32> = []
    public private(set) var files = 0
    /// Sum of `mmap` lengths.
    public private(set) var mappedBytes: UInt64 = 0
    /// Lowest and highest byte address any access touched.
    public private(set) var minAddress: UInt64?
    public private(set) var maxAddress: UInt64?
    /// The pages each process's accesses touched.
    private var pages: [UInt32: PageRangeSet] = [:]
    /// The last page added (pid, page), to skip the lookup for runs of accesses to one page.
    private var lastPid: UInt32 = 0
    private var lastPage = UInt64.max

    public init() {}

    public var accesses: UInt64 { accessCounts.reduce(0, +) }
    /// Distinct (process, 4 KiB page) pairs the accesses touched.
    public var distinctPages: Int { Int(clamping: pages.values.reduce(0) { $0 &+ $1.count }) }

    public mutating func add(_ event: TraceEvent) {
        events += 1
        switch event {
        case .access(let a):
            accessCounts[Int(a.kind.rawValue)] += 1
            let last = a.address &+ UInt64(max(a.size, 1) - 1)
            minAddress = min(minAddress ?? a.address, a.address)
            maxAddress = max(maxAddress ?? last, last)
            // An access that wraps past the top of the address space touches its first page
            // only, as before.
            let first = a.address / tracePageSize
            let lastPageNumber = max(first, last / tracePageSize)
            if a.pid != lastPid || first != lastPage || lastPageNumber != first {
                pages[a.pid, default: PageRangeSet()].insert(first...lastPageNumber)
                lastPid = a.pid
                lastPage = lastPageNumber
            }
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
        eventCounts[event.keyword, default: 0] += 1
    }

    /// Count of events with `keyword` (accesses included).
    public func count(_ keyword: String) -> UInt64 {
        if let kind = AccessKind.allCases.first(where: { $0.keyword == keyword }) {
            return accessCounts[Int(kind.rawValue)]
        }
        return eventCounts[keyword] ?? 0
    }
}
