// `vmreplay import lackey`: turns the logs of
//     valgrind --tool=lackey --trace-mem=yes --trace-syscalls=yes --trace-children=yes
// (one log per process, docs/recording.md) into a trace.
//
// The logs are read twice, line by line, in constant memory. Both passes walk the processes
// the same way: the first process's log from the top; at each fork the child's logs in full
// (its exec'd programs included), then the parent's log goes on where fork returned. The first
// pass only collects what the second needs before it can write: pages touched outside every
// mapping (to infer mappings for them) and how far each file is mapped (a size for files that
// are gone). The second pass writes the events.
import VMTrace

import Glibc

/// Options of the Lackey importer.
public struct LackeyImportOptions: Sendable {
    /// `valgrind -d` standard-error captures holding each program's startup layout.
    public var layoutPaths: [String] = []
    /// Skip and count lines that are not log lines instead of stopping.
    public var keepGoing = false
    /// Drop a data access that repeats the previous access's kind on the same page
    /// (docs/recording.md: changes TLB-hit and access counts only).
    public var merge = false
    /// Declare every file `resident` (its pages start in the page cache).
    public var resident = false
    /// The directory the recorded program started in: relative paths it opened are made
    /// absolute against it (and against its chdir()s), so the trace names real files.
    public var startDirectory: String?

    public init() {}
}

/// What an import did, for the summary the command prints.
public struct LackeyImportSummary: Sendable {
    public var logs = 0
    public var lines: UInt64 = 0
    /// `I`/`L`/`S`/`M` records read.
    public var accessRecords: UInt64 = 0
    /// Access events written (r/w/x/kw): an `M` record is two, a read and a write; exec's
    /// stack image is one `kw`; `--merge` drops some. This is what `replay.accesses` and
    /// `info`'s "accesses" count.
    public var accesses: UInt64 = 0
    public var events: UInt64 = 0
    public var processes = 0
    public var forks = 0
    public var execs = 0
    public var files = 0
    /// System calls that changed the trace (mappings, processes, threads, descriptors).
    public var appliedSyscalls: UInt64 = 0
    /// Successful system calls with nothing to record, by wrapper name.
    public var ignoredSyscalls: [String: UInt64] = [:]
    /// System calls that failed (nothing to record).
    public var failedSyscalls: UInt64 = 0
    /// Programs whose startup mappings came from a `valgrind -d` layout.
    public var layoutsUsed = 0
    public var inferredRegions: [LackeyInferredRegion] = []
    /// Accesses that needed an inferred mapping.
    public var inferredAccesses: UInt64 = 0
    /// Accesses at kernel addresses (no mapping can be inferred there; the replay counts them
    /// as SIGSEGV).
    public var kernelAddressAccesses: UInt64 = 0
    /// Accesses that still fall outside every mapping of the written trace (0 unless inference
    /// failed).
    public var unmappedAccesses: UInt64 = 0
    /// Accesses dropped by `merge`.
    public var mergedAccesses: UInt64 = 0
    /// Things a user should know (missing logs, truncated last lines, damaged layouts).
    public var notes: [String] = []
    /// Programs whose log is missing (lost at a second exec of one pid, or never given): their
    /// accesses are not in the trace. A recording with any is partial.
    public var missingProgramLogs: [String] = []
    /// Startup layouts of those programs, passed over so that the next program gets its own.
    public var skippedLayouts = 0
    public var skippedLines = 0
    public var skippedErrors: [TraceError] = []
}

/// Imports Lackey logs.
public final class LackeyImporter {
    /// How a process's program starts in a log.
    enum Start {
        /// The first process: `proc`, then its startup layout.
        case root
        /// A program exec'd by the process: `exec`, then its startup layout.
        case exec
        /// A fork child's log: the address space is the parent's copy.
        case fork
        /// A fork child whose parent's log is missing: `proc` without a layout.
        case orphan
    }

    /// What the first lines of a log say.
    struct LogInfo {
        var path: String
        var name: String
        var pid: UInt32
        var parentPid: UInt32?
        var command: String?
        /// The log begins on the child's side of a fork (` --> ... Success(0x0)`).
        var forkInstance: Bool
    }

    /// One process while its logs are read.
    final class Process {
        let realPid: UInt32
        let pid: UInt32
        var space = LackeyAddressSpace()
        var fds: [Int64: String] = [:]
        var cwd: String?
        /// The current break and the end of the mapped heap.
        var brk: UInt64?
        var brkEnd: UInt64?
        var threads: UInt32 = 1
        /// Blocking calls in progress, by thread.
        var pending: [UInt32: LackeySyscallLine] = [:]

        init(realPid: UInt32, pid: UInt32) {
            self.realPid = realPid
            self.pid = pid
        }
    }

    public let logPaths: [String]
    public let options: LackeyImportOptions
    /// Called every 64K lines with how far the import is (LackeyImportProgress.swift).
    public var progress: ((LackeyImportProgress) -> Void)?
    var progressState = LackeyImportProgress()
    private var infos: [LogInfo] = []
    private var layouts = LackeyLayouts()
    public private(set) var summary = LackeyImportSummary()

    // State of one pass.
    private var emitting = false
    private var sink: (TraceEvent) throws -> Void = { _ in }
    private var claimed: [Bool] = []
    private var layoutCursor: [UInt32: Int] = [:]
    private var instanceCount = 0
    private var currentInstance = 0
    private var usedPids: Set<UInt32> = []
    private var nextSyntheticPid: UInt32 = 4_194_305
    private var fileIDs: [String: UInt32] = [:]
    private var policy = ErrorPolicy(keepGoing: false)
    private var lastAccess: (pid: UInt32, kind: AccessKind, page: UInt64)?

    // Collected by the first pass for the second.
    private var unmapped: [LackeyUnmappedPages] = []
    private var fileExtents: [String: UInt64] = [:]
    private var inferredAccesses: UInt64 = 0

    public init(logs: [String], options: LackeyImportOptions = LackeyImportOptions()) {
        logPaths = logs
        self.options = options
    }

    /// Imports into a trace file (format by its name); the file appears only when complete.
    public func run(output: String, compressionLevel: Int = 6) throws -> LackeyImportSummary {
        try prepare()
        try pass(emitting: false) { _ in }
        let writer = try TraceWriter(path: output, compressionLevel: compressionLevel)
        do {
            try pass(emitting: true) { try writer.write($0) }
            try writer.finish()
        } catch {
            writer.abandon()
            throw error
        }
        return summary
    }

    /// Imports into memory (small logs, tests).
    public func events() throws -> [TraceEvent] {
        var all: [TraceEvent] = []
        try prepare()
        try pass(emitting: false) { _ in }
        try pass(emitting: true) { all.append($0) }
        return all
    }

    // MARK: - Preparation

    private func prepare() throws {
        guard !logPaths.isEmpty else { throw TraceError(.usage, "import lackey: no logs given") }
        infos = []
        for path in logPaths {
            if let info = try Self.scanHeader(path, keepGoing: options.keepGoing) {
                infos.append(info)
            } else {
                summary.notes.append("\(displayName(forPath: path)): empty log (no lines from a process); skipped")
            }
        }
        layouts = LackeyLayouts()
        for path in options.layoutPaths { layouts.merge(try LackeyLayouts(path: path)) }
        for d in layouts.damaged {
            summary.notes.append("\(d): startup layout damaged (interleaved output?); its mappings are inferred")
        }
    }

    /// Reads a log's first lines: whose it is, its parent, its command, and whether it starts
    /// on the child's side of a fork. Nil for an empty file.
    static func scanHeader(_ path: String, keepGoing: Bool = false) throws -> LogInfo? {
        let reader = try LackeyLogReader(path: path)
        var info = LogInfo(path: path, name: reader.name, pid: 0, parentPid: nil, command: nil, forkInstance: false)
        var havePid = false
        var sawLine = false
        var firstContent = true
        scan: while let line = try reader.next() {
            if havePid && line.number > 200 { break }
            sawLine = true
            let record: LackeyRecord
            do {
                record = try LackeyLineParser.parse(line.bytes)
            } catch {
                // The walk reports bad lines once it knows the log; before that, a bad line is
                // all there is to say.
                if havePid || !line.terminated { break }
                if keepGoing { continue }
                throw TraceError(.dataError, file: reader.name, at: .line(line.number),
                                 "\(error.message): \(quoteInput(line.bytes))")
            }
            switch record {
            case .command(let pid, let command):
                info.pid = pid
                havePid = true
                info.command = command
            case .parentPid(let pid, let parent):
                info.pid = pid
                havePid = true
                info.parentPid = parent
            case .banner(let pid):
                info.pid = pid
                havePid = true
            case .blank, .message:
                break
            case .continuation:
                if firstContent { info.forkInstance = true }
                firstContent = false
                if havePid { break scan }
            case .access:
                firstContent = false
                if havePid { break scan }
            case .syscall(let s):
                if !havePid { info.pid = s.pid }
                break scan
            case .asyncDone(let pid, _, _, _):
                if !havePid { info.pid = pid }
                break scan
            }
        }
        if info.pid != 0 { return info }
        guard sawLine else { return nil }
        throw TraceError(.dataError, file: reader.name,
                         "cannot tell which process this log is of: it has no ==PID== line and no SYSCALL line")
    }

    // MARK: - The walk

    private func pass(emitting: Bool, _ sink: @escaping (TraceEvent) throws -> Void) throws {
        progressState.begin(pass: emitting ? 2 : 1, logs: infos.map(\.path))
        self.emitting = emitting
        self.sink = sink
        claimed = Array(repeating: false, count: infos.count)
        layoutCursor = [:]
        instanceCount = 0
        usedPids = []
        nextSyntheticPid = 4_194_305
        fileIDs = [:]
        lastAccess = nil
        policy = ErrorPolicy(keepGoing: options.keepGoing)
        if emitting {
            let notes = summary.notes
            summary = LackeyImportSummary()
            summary.notes = notes
            summary.logs = infos.count
            summary.inferredAccesses = inferredAccesses
        }
        let traced = Set(infos.map(\.pid))
        for i in infos.indices where !claimed[i] && !infos[i].forkInstance {
            if let parent = infos[i].parentPid, traced.contains(parent) { continue }
            try runChain(i, newProcess(infos[i].pid, from: nil), .root)
        }
        for i in infos.indices where !claimed[i] {
            let info = infos[i]
            note("\(info.name): process \(info.pid) was not reached from the first process's log (its parent's fork or exec is missing); imported as a separate process")
            try runChain(i, newProcess(info.pid, from: nil), info.forkInstance ? .orphan : .root)
        }
        if emitting {
            summary.skippedLines = policy.skipped
            summary.skippedErrors = policy.samples
            summary.files = fileIDs.count
        }
    }

    private func note(_ text: String) {
        if emitting { summary.notes.append(text) }
    }

    /// A process with the recorded pid, or a fresh one if a process with that pid already ran.
    private func newProcess(_ realPid: UInt32, from parent: Process?) -> Process {
        var pid = realPid
        if usedPids.contains(pid) {
            while usedPids.contains(nextSyntheticPid) { nextSyntheticPid += 1 }
            pid = nextSyntheticPid
            note("pid \(realPid) was used by two processes; the second is pid \(pid) in the trace")
        }
        usedPids.insert(pid)
        if emitting { summary.processes += 1 }
        let p = Process(realPid: realPid, pid: pid)
        p.cwd = options.startDirectory
        if let parent {
            p.space = parent.space.copy()
            p.fds = parent.fds
            p.cwd = parent.cwd
            p.brk = parent.brk
            p.brkEnd = parent.brkEnd
        }
        return p
    }

    /// Runs a process from `first` (its first log) to its end: the log, and the logs of the
    /// programs it execs.
    private func runChain(_ first: Int, _ process: Process, _ start: Start) throws {
        var log = first
        var start = start
        while true {
            claimed[log] = true
            guard let execPath = try runLog(log, process, start) else { break }
            guard let next = nextExecLog(process.realPid) else {
                note("\(infos[log].name): process \(process.realPid) exec'd \(execPath), but no log of that program was given")
                if emitting { summary.missingProgramLogs.append(execPath) }
                try emit(.exec(pid: process.pid))
                break
            }
            if let runs = checkExec(execPath, infos[next], from: infos[log]) {
                skipLayouts(of: process.realPid, until: runs)
            }
            log = next
            start = .exec
        }
        try emit(.exit(pid: process.pid))
    }

    private func nextExecLog(_ pid: UInt32) -> Int? {
        infos.indices.first { !claimed[$0] && infos[$0].pid == pid && !infos[$0].forkInstance }
    }

    /// Notes an exec whose program is not the one the next log ran: the log of the program in
    /// between was lost (Valgrind reopens a pid's --log-file name at each exec). Returns the
    /// executable the next log runs in that case.
    private func checkExec(_ path: String, _ next: LogInfo, from: LogInfo) -> String? {
        guard let command = next.command else { return nil }
        let exe = Self.executable(of: command)
        guard exe != path && Self.baseName(exe) != Self.baseName(path) else { return nil }
        note("\(from.name): process \(from.pid) exec'd \(path) but the next log (\(next.name)) runs \(exe): the log of \(path) is missing (see docs/recording.md)")
        if emitting { summary.missingProgramLogs.append(path) }
        return exe
    }

    /// After a lost log, the pid's next startup layouts may be those of the lost programs (a
    /// `#!` script's interpreter chain: env, then bash). Passes over them up to the first layout
    /// of `executable`, so that the program whose log follows starts in its own address space
    /// rather than a lost program's (issue 12 §6). Without such a layout nothing is skipped.
    private func skipLayouts(of pid: UInt32, until executable: String) {
        guard let list = layouts.byPid[pid] else { return }
        let cursor = layoutCursor[pid, default: 0]
        // Valgrind's layout names the file it loaded (/usr/bin/dash), the Command: line the name
        // it was run by (/usr/bin/sh, a symlink): compare the resolved paths' base names.
        let wanted = Self.baseName(Self.resolved(executable))
        guard cursor < list.count, let match = list[cursor...].firstIndex(where: {
            LackeyLayouts.executable(of: $0).map { Self.baseName(Self.resolved($0)) } == wanted
        }) else { return }
        layoutCursor[pid] = match
        if emitting { summary.skippedLayouts += match - cursor }
    }

    /// The first word of a `Command:` line (Valgrind escapes blanks in it with `\`).
    static func executable(of command: String) -> String {
        var out = ""
        var escaped = false
        for ch in command {
            if escaped {
                out.append(ch)
                escaped = false
            } else if ch == "\\" {
                escaped = true
            } else if ch == " " {
                break
            } else {
                out.append(ch)
            }
        }
        return out
    }

    /// The path with symbolic links resolved (as on the machine importing; the path itself if
    /// it does not exist here).
    static func resolved(_ path: String) -> String {
        guard let real = realpath(path, nil) else { return path }
        defer { free(real) }
        return String(cString: real)
    }

    static func baseName(_ path: String) -> Substring {
        path.split(separator: "/").last ?? Substring(path)
    }

    /// Reads one log file (which may hold several programs of the process, one after the other);
    /// returns the path of the program exec'd at its end, if it ends in an exec.
    private func runLog(_ index: Int, _ process: Process, _ start: Start) throws -> String? {
        let info = infos[index]
        let reader = try LackeyLogReader(path: info.path)
        var state = LogState()
        try beginProgram(process, start)
        progressState.openLog()
        defer { progressState.finishLog(reader.fileBytesRead) }
        while let line = try reader.next() {
            if emitting { summary.lines += 1 }
            if line.number & 0xFFFF == 0, let progress { progress(progressState.at(reader.fileBytesRead)) }
            // An exec'd program's log may follow `sys_execve ( ... )` on the same line.
            if let split = Self.embeddedBanner(line.bytes) {
                try handle(UnsafeBufferPointer(rebasing: line.bytes[..<split]), line, info, process, &state)
                try handle(UnsafeBufferPointer(rebasing: line.bytes[split...]), line, info, process, &state)
            } else {
                try handle(line.bytes, line, info, process, &state)
            }
        }
        return state.pendingExec
    }

    /// Per-log parsing state.
    struct LogState {
        /// The last call whose outcome is on the next line.
        var incomplete: LackeySyscallLine?
        /// `execve` was called and has not returned: the log ends here if it succeeded.
        var pendingExec: String?
        /// The current program has printed its `Command:` line / anything past its banner.
        var sawCommand = false
        var sawContent = false
    }

    /// Where `==PID==` starts inside a `SYSCALL[` line, if it does.
    static func embeddedBanner(_ bytes: UnsafeBufferPointer<UInt8>) -> Int? {
        guard bytes.count > 8, bytes[0] == UInt8(ascii: "S"), bytes[1] == UInt8(ascii: "Y") else { return nil }
        var i = 8
        while i + 4 < bytes.count {
            if bytes[i] == UInt8(ascii: "="), bytes[i + 1] == UInt8(ascii: "=") {
                var j = i + 2
                while j < bytes.count, bytes[j] >= 48, bytes[j] <= 57 { j += 1 }
                if j > i + 2, j + 1 < bytes.count, bytes[j] == UInt8(ascii: "="), bytes[j + 1] == UInt8(ascii: "=") {
                    return i
                }
            }
            i += 1
        }
        return nil
    }

    private func lineError(_ info: LogInfo, _ line: LackeyLogLine, _ message: String) -> TraceError {
        TraceError(.dataError, file: info.name, at: .line(line.number), message)
    }

    private func handle(_ bytes: UnsafeBufferPointer<UInt8>, _ line: LackeyLogLine, _ info: LogInfo,
                        _ process: Process, _ state: inout LogState) throws
    {
        let record: LackeyRecord
        do {
            record = try LackeyLineParser.parse(bytes)
        } catch {
            if !line.terminated {
                note("\(info.name):\(line.number): the log ends in the middle of a line; the partial line is ignored")
                return
            }
            let e = lineError(info, line, "\(error.message): \(quoteInput(bytes))")
            if emitting { try policy.handle(e) } else if !options.keepGoing { throw e }
            return
        }
        if !line.terminated {
            // Only a system call's first part ends a log without a newline (exec); anything else
            // there was cut short.
            guard case .syscall = record else {
                note("\(info.name):\(line.number): the log ends in the middle of a line; the partial line is ignored")
                return
            }
        }
        switch record {
        case .access(let kind, let address, let size):
            state.sawContent = true
            state.incomplete = nil
            state.pendingExec = nil
            try access(process, kind, address, size)
        case .syscall(let s):
            guard s.pid == info.pid else {
                throw lineError(info, line, "a system call of process \(s.pid) in the log of process \(info.pid); give each process's log as its own file")
            }
            state.sawContent = true
            state.incomplete = nil
            state.pendingExec = nil
            process.pending[s.tid] = nil  // a blocking call interrupted by a signal never ends
            switch s.outcome {
            case .done(let r):
                try apply(process, s, r, info, line)
            case .async:
                process.pending[s.tid] = s
            case .pending:
                state.incomplete = s
                switch s.decode() {
                case .clone(_, let child?):
                    // Valgrind names a child only for the clones it runs as fork, vfork-like
                    // CLONE_VM|CLONE_VFORK (posix_spawn) included.
                    try fork(process, child)
                case .fork(let child?):
                    try fork(process, child)
                case .execve(let path):
                    state.pendingExec = path
                default:
                    break
                }
            }
        case .asyncDone(let pid, let tid, let number, let result):
            guard pid == info.pid else {
                throw lineError(info, line, "a system call of process \(pid) in the log of process \(info.pid); give each process's log as its own file")
            }
            state.sawContent = true
            state.incomplete = nil
            state.pendingExec = nil
            if let s = process.pending.removeValue(forKey: tid), s.number == number {
                try apply(process, s, result, info, line)
            }
        case .continuation(let outcome):
            guard let s = state.incomplete else { break }  // the child's side of fork
            state.incomplete = nil
            switch outcome {
            case .done(let r):
                if !r.succeeded { state.pendingExec = nil }
                if s.createdChild == nil { try apply(process, s, r, info, line) }
            case .async:
                process.pending[s.tid] = s
            case .pending:
                break
            }
        case .command(let pid, let command):
            guard pid == info.pid else {
                throw lineError(info, line, "the log of process \(info.pid) continues with process \(pid)'s; give each process's log as its own file")
            }
            if state.sawCommand && state.sawContent {
                // The same log goes on with the program the process exec'd.
                let execPath = state.pendingExec ?? "an unknown program"
                var next = info
                next.command = command
                checkExec(execPath, next, from: info)
                state = LogState()
                try beginProgram(process, .exec)
            }
            state.sawCommand = true
        case .parentPid(let pid, _), .banner(let pid):
            guard pid == info.pid else {
                throw lineError(info, line, "the log of process \(info.pid) continues with process \(pid)'s; give each process's log as its own file")
            }
        case .message, .blank:
            break
        }
    }

    // MARK: - Programs

    /// Starts a program of `process`: the process event, the startup layout, inferred mappings.
    private func beginProgram(_ process: Process, _ start: Start) throws {
        currentInstance = instanceCount
        instanceCount += 1
        if !emitting && unmapped.count < instanceCount { unmapped.append(LackeyUnmappedPages()) }
        switch start {
        case .root, .orphan:
            try emit(.proc(pid: process.pid, threads: 1))
        case .exec:
            try emit(.exec(pid: process.pid))
            if process.threads != 1 {
                process.threads = 1
                try emit(.threads(pid: process.pid, count: 1))
            }
            process.space.removeAll()
            process.brk = nil
            process.brkEnd = nil
            process.pending = [:]
            if emitting { summary.execs += 1 }
        case .fork:
            break
        }
        if start == .root || start == .exec, let layout = nextLayout(process.realPid) {
            try applyLayout(process, layout)
        }
        if emitting && currentInstance < unmapped.count && !unmapped[currentInstance].isEmpty {
            try mapInferred(process, unmapped[currentInstance].regions(findStack: start != .fork))
        }
    }

    private func nextLayout(_ pid: UInt32) -> [LackeyLayoutSegment]? {
        guard let list = layouts.byPid[pid] else { return nil }
        let i = layoutCursor[pid, default: 0]
        guard i < list.count else { return nil }
        layoutCursor[pid] = i + 1
        if list[i].isEmpty { return nil }  // damaged
        if emitting { summary.layoutsUsed += 1 }
        return list[i]
    }

    private func applyLayout(_ process: Process, _ layout: [LackeyLayoutSegment]) throws {
        for seg in layout {
            switch seg.kind {
            case .file(let path, let offset):
                let id = try fileID(path, extent: offset + (seg.end - seg.start))
                try map(process, LackeyRegion(start: seg.start, end: seg.end, protection: seg.protection,
                                              fileID: id, offset: offset))
            case .anon:
                try map(process, LackeyRegion(start: seg.start, end: seg.end, protection: seg.protection))
            case .shared:
                try map(process, LackeyRegion(start: seg.start, end: seg.end, protection: seg.protection, shared: true))
            case .stack(let reserveStart):
                try map(process, LackeyRegion(start: reserveStart, end: seg.end, protection: [.read, .write], stack: true))
                // exec copies the arguments, environment and auxiliary vector out to the top of
                // the new stack (kernel-mode writes, as DragonFly's exec_copyout_strings does).
                try emitAccess(Access(kind: .kernelWrite, pid: process.pid, address: seg.start,
                                      size: UInt32(clamping: seg.end - seg.start)))
            case .brk:
                process.brk = seg.start
                process.brkEnd = seg.start
            }
        }
    }

    /// Maps inferred regions (clipped to what is still unmapped) and reports them.
    private func mapInferred(_ process: Process, _ regions: [LackeyInferredRegion]) throws {
        for var r in regions {
            r.pid = process.pid
            if r.stack {
                // The stack may reach 8 MiB (RLIMIT_STACK's usual value) below its top, as far
                // as the next mapping down allows.
                let holes = process.space.holes(r.start, r.end)
                if holes.count == 1 && holes[0] == r.start..<r.end {
                    let floor = process.space.end(below: r.start)
                    let reach = r.end >= (8 << 20) ? r.end - (8 << 20) : 0
                    let start = max(floor, reach)
                    try map(process, LackeyRegion(start: start, end: r.end, protection: [.read, .write], stack: true))
                    summary.inferredRegions.append(r)
                    continue
                }
                r.stack = false
            }
            // Pages a fork child touched may lie in what its parent's inferred regions cover.
            let holes = process.space.holes(r.start, r.end)
            if holes.isEmpty { continue }
            for hole in holes {
                try map(process, LackeyRegion(start: hole.lowerBound, end: hole.upperBound, protection: r.protection))
            }
            summary.inferredRegions.append(r)
        }
    }

    // MARK: - Events

    private func emit(_ event: TraceEvent) throws {
        guard emitting else { return }
        lastAccess = nil
        try sink(event)
        summary.events += 1
    }

    @inline(__always)
    private func emitAccess(_ a: Access) throws {
        guard emitting else { return }
        if options.merge {
            let page = a.address >> 12
            if (a.kind == .read || a.kind == .write) && (a.address &+ UInt64(a.size) &- 1) >> 12 == page {
                if let last = lastAccess, last.pid == a.pid, last.kind == a.kind, last.page == page {
                    summary.mergedAccesses += 1
                    return
                }
                try sink(.access(a))
                summary.events += 1
                summary.accesses += 1
                lastAccess = (a.pid, a.kind, page)
                return
            }
            lastAccess = nil
        }
        try sink(.access(a))
        summary.events += 1
        summary.accesses += 1
    }

    private func map(_ process: Process, _ r: LackeyRegion) throws {
        process.space.map(r)
        var flags: MmapFlags = []
        if r.shared { flags.insert(.shared) }
        if r.stack { flags.insert(.stack) }
        try emit(.mmap(Mapping(pid: process.pid, address: r.start, length: r.end - r.start,
                               protection: r.protection, flags: flags, fileID: r.fileID, offset: r.offset)))
    }

    private func unmap(_ process: Process, _ start: UInt64, _ end: UInt64) throws {
        guard start < end else { return }
        process.space.unmap(start, end)
        try emit(.munmap(pid: process.pid, address: start, length: end - start))
    }

    /// The id of a file path, declared (`file`) on first use. Its size is the file's size now,
    /// or, if it is gone, how far the logs mapped it.
    private func fileID(_ path: String, extent: UInt64) throws -> UInt32 {
        if !emitting { fileExtents[path] = max(fileExtents[path] ?? 0, extent) }
        if let id = fileIDs[path] { return id }
        let id = UInt32(fileIDs.count + 1)
        fileIDs[path] = id
        if !emitting { return id }
        var size = max(fileExtents[path] ?? 0, extent)
        var st = stat()
        if stat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFREG {
            size = UInt64(st.st_size)
        } else {
            note("file \(path) is gone; its size is taken from how far the logs map it (\(size) bytes)")
        }
        try emit(.file(id: id, size: size, resident: options.resident, path: TracePath(path)))
        return id
    }

    // MARK: - Accesses

    @inline(__always)
    private func access(_ process: Process, _ kind: LackeyAccessKind, _ address: UInt64, _ size: UInt32) throws {
        let size = max(size, 1)
        if emitting { summary.accessRecords += 1 }
        let (last, overflow) = address.addingReportingOverflow(UInt64(size) - 1)
        let lastByte = overflow ? UInt64.max : last
        if !process.space.contains(address) || (lastByte >> 12 != address >> 12 && !process.space.contains(lastByte)) {
            outsideMappings(process, kind, address, lastByte)
        }
        switch kind {
        case .instruction:
            try emitAccess(Access(kind: .execute, pid: process.pid, address: address, size: size))
        case .load:
            try emitAccess(Access(kind: .read, pid: process.pid, address: address, size: size))
        case .store:
            try emitAccess(Access(kind: .write, pid: process.pid, address: address, size: size))
        case .modify:
            try emitAccess(Access(kind: .read, pid: process.pid, address: address, size: size))
            try emitAccess(Access(kind: .write, pid: process.pid, address: address, size: size))
        }
    }

    private func outsideMappings(_ process: Process, _ kind: LackeyAccessKind, _ first: UInt64, _ last: UInt64) {
        if first >= vmUserAddressLimit {
            if emitting { summary.kernelAddressAccesses += 1 }
            return
        }
        if emitting {
            summary.unmappedAccesses += 1
            return
        }
        inferredAccesses += 1
        let kinds: UInt8
        switch kind {
        case .instruction: kinds = LackeyUnmappedPages.executeBit
        case .load: kinds = LackeyUnmappedPages.readBit
        case .store: kinds = LackeyUnmappedPages.writeBit
        case .modify: kinds = LackeyUnmappedPages.readBit | LackeyUnmappedPages.writeBit
        }
        var page = first >> 12
        while true {
            let address = page << 12
            if address < vmUserAddressLimit && !process.space.contains(address) {
                unmapped[currentInstance].add(page: page, kinds: kinds)
            }
            if page >= last >> 12 { break }
            page += 1
        }
    }

    // MARK: - System calls

    private func ignore(_ s: LackeySyscallLine) {
        if emitting { summary.ignoredSyscalls[String(s.baseName), default: 0] += 1 }
    }

    private func applied() {
        if emitting { summary.appliedSyscalls += 1 }
    }

    /// A system call that finished with `result`.
    private func apply(_ process: Process, _ s: LackeySyscallLine, _ result: LackeyResult,
                       _ info: LogInfo, _ line: LackeyLogLine) throws
    {
        guard let call = s.decode() else {
            note("\(info.name):\(line.number): \(s.baseName): arguments not understood; ignored")
            return
        }
        guard result.succeeded else {
            if emitting { summary.failedSyscalls += 1 }
            return
        }
        let value = result.value
        switch call {
        case .mmap(_, let length, let prot, let flags, let fd, let offset):
            guard let address = value, length > 0 else { return ignore(s) }
            var r = LackeyRegion(start: address, end: address + roundPage(length),
                                 protection: LinuxABI.protection(prot))
            let sharing = flags & 3
            r.shared = sharing == LinuxABI.mapShared || sharing == LinuxABI.mapSharedValidate
            r.stack = flags & LinuxABI.mapGrowsDown != 0
            if flags & LinuxABI.mapAnonymous == 0 && fd >= 0 {
                let path = process.fds[fd] ?? "<descriptor \(fd) of process \(process.realPid)>"
                r.fileID = try fileID(path, extent: offset + roundPage(length))
                r.offset = offset
                r.stack = false
            }
            try map(process, r)
        case .munmap(let address, let length):
            try unmap(process, address, address + roundPage(length))
        case .mprotect(let address, let length, let prot):
            let end = address + roundPage(length)
            guard end > address else { return ignore(s) }
            process.space.protect(address, end, LinuxABI.protection(prot))
            try emit(.mprotect(pid: process.pid, address: address, length: end - address,
                               protection: LinuxABI.protection(prot)))
        case .madvise(let address, let length, let advice):
            guard let a = LinuxABI.advice(advice), length > 0 else { return ignore(s) }
            try emit(.madvise(pid: process.pid, address: address, length: roundPage(length), advice: a))
        case .mlock(let address, let length), .munlock(let address, let length):
            let start = address & ~(tracePageSize - 1)
            let end = roundPage(address + length)
            guard end > start else { return ignore(s) }
            if case .mlock = call {
                try emit(.mlock(pid: process.pid, address: start, length: end - start))
            } else {
                try emit(.munlock(pid: process.pid, address: start, length: end - start))
            }
        case .brk:
            guard let newBreak = value else { return ignore(s) }
            try setBreak(process, newBreak)
        case .mremap(let address, let oldLength, let newLength, let flags):
            guard let newAddress = value else { return ignore(s) }
            try remap(process, address, roundPage(oldLength), roundPage(newLength), newAddress, flags)
        case .open(let directory, let path):
            guard let fd = value else { return ignore(s) }
            process.fds[Int64(fd)] = resolve(path, in: directory.flatMap { process.fds[$0] } ?? process.cwd)
        case .close(let fd):
            process.fds[fd] = nil
        case .dup(let fd):
            guard let newFD = value else { return ignore(s) }
            process.fds[Int64(newFD)] = process.fds[fd]
        case .dup2(let fd, let newFD):
            process.fds[newFD] = process.fds[fd]
        case .clone(let flags, let child):
            if let child {
                try fork(process, child)
                return
            } else if flags & LinuxABI.cloneVM != 0 {
                process.threads += 1
                try emit(.threads(pid: process.pid, count: process.threads))
            } else if let child = value.map({ UInt32(truncatingIfNeeded: $0) }) {
                try fork(process, child)
                return
            }
        case .fork(let child):
            if let child = child ?? value.map({ UInt32(truncatingIfNeeded: $0) }) {
                try fork(process, child)
            }
            return
        case .exitThread:
            guard process.threads > 1 else { return ignore(s) }
            process.threads -= 1
            try emit(.threads(pid: process.pid, count: process.threads))
        case .chdir(let path):
            process.cwd = resolve(path, in: process.cwd)
        case .fchdir(let fd):
            process.cwd = process.fds[fd]
        case .memfdCreate(let name):
            guard let fd = value else { return ignore(s) }
            process.fds[Int64(fd)] = "/memfd:\(name)"
        case .execve, .exitGroup, .other:
            return ignore(s)
        }
        applied()
    }

    /// A path as the process named it, made absolute when its directory is known.
    private func resolve(_ path: String, in directory: String?) -> String {
        if path.hasPrefix("/") { return path }
        guard let directory else { return path }
        if path == "." { return directory }
        return directory.hasSuffix("/") ? directory + path : directory + "/" + path
    }

    /// brk: the heap grows by an anonymous mapping of the new pages, or shrinks by unmapping.
    /// Protection `rwx`: DragonFly's sys_obreak maps with VM_PROT_ALL (research §2.2).
    private func setBreak(_ process: Process, _ newBreak: UInt64) throws {
        guard let mappedEnd = process.brkEnd else {
            // The first break the log shows is where the heap starts.
            process.brk = newBreak
            process.brkEnd = roundPage(newBreak)
            return
        }
        let newEnd = roundPage(newBreak)
        if newEnd > mappedEnd {
            try map(process, LackeyRegion(start: mappedEnd, end: newEnd, protection: .all))
        } else if newEnd < mappedEnd {
            try unmap(process, newEnd, mappedEnd)
        }
        process.brk = newBreak
        process.brkEnd = newEnd
    }

    /// mremap: growing in place maps the new tail like the old mapping; shrinking unmaps the
    /// tail; a move unmaps the old range (unless MREMAP_DONTUNMAP) and maps the new one with the
    /// old attributes. The trace has no "move" event, so moved anonymous contents start afresh.
    private func remap(_ process: Process, _ address: UInt64, _ oldLength: UInt64, _ newLength: UInt64,
                       _ newAddress: UInt64, _ flags: UInt64) throws
    {
        let old = process.space.region(containing: address)
            ?? LackeyRegion(start: address, end: address + oldLength, protection: [.read, .write])
        var like = old.slice(old.start, old.end)
        like.stack = false
        func part(_ start: UInt64, _ end: UInt64, fileStart: UInt64) -> LackeyRegion {
            var r = like
            r.start = start
            r.end = end
            if r.fileID != nil { r.offset = old.offset + (fileStart - old.start) }
            return r
        }
        if newAddress == address {
            if newLength > oldLength {
                try map(process, part(address + oldLength, address + newLength, fileStart: address + oldLength))
            } else if newLength < oldLength {
                try unmap(process, address + newLength, address + oldLength)
            }
            return
        }
        if flags & 4 == 0 {  // MREMAP_DONTUNMAP
            try unmap(process, address, address + oldLength)
        }
        try map(process, part(newAddress, newAddress + newLength, fileStart: address))
    }

    /// fork: the child's logs run here, in full, before the parent's log goes on.
    private func fork(_ parent: Process, _ childPid: UInt32) throws {
        let child = newProcess(childPid, from: parent)
        // The child's programs are instances of their own; what the parent touches after the
        // fork belongs to the parent's program again (its inferred mappings: issue 17 item 3).
        let parentInstance = currentInstance
        defer { currentInstance = parentInstance }
        try emit(.fork(parent: parent.pid, child: child.pid))
        if emitting { summary.forks += 1 }
        let forkLog = infos.indices.first {
            !claimed[$0] && infos[$0].pid == childPid && infos[$0].forkInstance
                && (infos[$0].parentPid == nil || infos[$0].parentPid == parent.realPid)
        }
        if let forkLog {
            try runChain(forkLog, child, .fork)
            return
        }
        // No log of the child before its exec (e.g. --log-file=%p reused the name): take the
        // log of the program it exec'd, if there is one.
        let execLog = infos.indices.first {
            !claimed[$0] && infos[$0].pid == childPid && !infos[$0].forkInstance
                && infos[$0].parentPid == parent.realPid
        }
        if let execLog {
            note("process \(childPid) (forked by \(parent.realPid)): no log of it before its exec; it goes straight to \(infos[execLog].name)")
            try runChain(execLog, child, .exec)
            return
        }
        note("process \(childPid) (forked by \(parent.realPid)): no log of it was given; it exits at once")
        try emit(.exit(pid: child.pid))
    }
}

/// Addresses from here up are the kernel's (x86-64 canonical user space ends at 2^47).
let vmUserAddressLimit: UInt64 = 0x0000_8000_0000_0000

@inline(__always)
func roundPage(_ v: UInt64) -> UInt64 {
    let (s, o) = v.addingReportingOverflow(tracePageSize - 1)
    return o ? ~(tracePageSize - 1) : s & ~(tracePageSize - 1)
}
