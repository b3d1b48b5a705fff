// Semantic checks every reader applies (text and binary alike), so a trace that decodes is one
// the replay engine can trust: processes exist before they act, ids are unique, ranges are
// page aligned and fit in 64 bits.

/// Tracks declared processes and files and judges each event in order.
///
/// `check` returns nil when the event is acceptable (and then updates the state), or a
/// message saying what is wrong (and leaves the state untouched, so `--keep-going` can skip
/// the event and go on).
public struct TraceValidator {
    /// Longest file path any codec accepts, in UTF-8 bytes.
    public static let maxPathBytes = 65535

    private var live: Set<UInt32> = []
    private var everDeclared: Set<UInt32> = []
    private var files: Set<UInt32> = []
    /// A pid known to be live (0 = none): spares a hash lookup for runs of accesses.
    private var cachedLivePid: UInt32 = 0

    public init() {}

    /// Whether `pid` is a running process.
    public func isLive(_ pid: UInt32) -> Bool { live.contains(pid) }

    /// Whether `checkAccess` would accept any access by `pid` of size 1, and one of a larger
    /// size whenever its kind has a size and the range stays inside 64 bits, without changing
    /// any state: the decoders' fast paths skip the call for such runs.
    @inline(__always)
    func acceptsAccessRun(pid: UInt32) -> Bool { pid != 0 && pid == cachedLivePid }

    private func processProblem(_ pid: UInt32) -> String? {
        if pid == 0 { return "PID 0 is not a valid process id" }
        if live.contains(pid) { return nil }
        if everDeclared.contains(pid) { return "process \(pid) has exited" }
        return "process \(pid) is not declared (no proc or fork for it)"
    }

    /// The checks of an access: the hot path.
    @inline(__always)
    public mutating func checkAccess(_ a: Access) -> String? {
        if a.pid != cachedLivePid || a.pid == 0 {
            if let problem = processProblem(a.pid) { return problem }
            cachedLivePid = a.pid
        }
        if a.size == 1 { return nil }
        return accessSizeProblem(a)
    }

    private func accessSizeProblem(_ a: Access) -> String? {
        if a.size == 0 { return "access size must be at least 1" }
        if !a.kind.hasSize { return "\(a.kind.keyword) accesses one byte (size \(a.size) given)" }
        if a.address.addingReportingOverflow(UInt64(a.size) - 1).overflow {
            return "access of \(a.size) bytes at \(hex(a.address)) runs past the end of the address space"
        }
        return nil
    }

    private func rangeProblem(_ address: UInt64, _ length: UInt64) -> String? {
        if address % tracePageSize != 0 { return "address \(hex(address)) is not page aligned (4096)" }
        if length == 0 { return "zero-length range" }
        if length % tracePageSize != 0 { return "length \(length) is not page aligned (4096)" }
        if address.addingReportingOverflow(length).overflow {
            return "range \(hex(address)) + \(length) overflows 64 bits"
        }
        return nil
    }

    private func rangeEventProblem(_ pid: UInt32, _ address: UInt64, _ length: UInt64) -> String? {
        processProblem(pid) ?? rangeProblem(address, length)
    }

    /// Judges `event`; nil = acceptable (state updated), else what is wrong.
    public mutating func check(_ event: TraceEvent) -> String? {
        switch event {
        case .access(let a):
            return checkAccess(a)
        case .file(let id, _, _, let path):
            if files.contains(id) { return "file \(id) is already declared" }
            if path.utf8.count > Self.maxPathBytes {
                return "file path of \(path.utf8.count) bytes is longer than \(Self.maxPathBytes)"
            }
            files.insert(id)
        case .proc(let pid, let threads):
            if pid == 0 { return "PID 0 is not a valid process id" }
            if live.contains(pid) { return "process \(pid) is already running" }
            if threads == 0 { return "threads=0: a process has at least one thread" }
            live.insert(pid)
            everDeclared.insert(pid)
        case .threads(let pid, let count):
            if let problem = processProblem(pid) { return problem }
            if count == 0 { return "thread count 0: a process has at least one thread" }
        case .fork(let parent, let child):
            if parent == 0 || child == 0 { return "PID 0 is not a valid process id" }
            if !live.contains(parent) { return "fork from unknown process \(parent)" }
            if live.contains(child) { return "fork to process \(child), which is already running" }
            live.insert(child)
            everDeclared.insert(child)
        case .exec(let pid):
            return processProblem(pid)
        case .exit(let pid):
            if let problem = processProblem(pid) { return problem }
            live.remove(pid)
            if cachedLivePid == pid { cachedLivePid = 0 }
        case .mmap(let m):
            if let problem = rangeEventProblem(m.pid, m.address, m.length) { return problem }
            if let fid = m.fileID, !files.contains(fid) { return "file \(fid) is not declared" }
            if m.offset % tracePageSize != 0 { return "offset \(m.offset) is not page aligned (4096)" }
            if m.offset.addingReportingOverflow(m.length).overflow {
                return "offset \(m.offset) + length \(m.length) overflows 64 bits"
            }
        case .munmap(let pid, let address, let length),
             .mprotect(let pid, let address, let length, _),
             .madvise(let pid, let address, let length, _),
             .setmap(let pid, let address, let length, _),
             .mlock(let pid, let address, let length),
             .munlock(let pid, let address, let length):
            return rangeEventProblem(pid, address, length)
        case .dropCaches:
            break
        case .store(let pid, let address, _):
            if let problem = processProblem(pid) { return problem }
            // An 8-byte word never straddles a page, so a store is one page's data.
            if address % 8 != 0 { return "store address \(hex(address)) is not 8-byte aligned" }
        }
        return nil
    }
}

/// `0x` + lowercase hex digits.
func hex(_ v: UInt64) -> String { "0x" + String(v, radix: 16) }
