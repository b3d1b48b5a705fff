// `vmreplay import lackey LOG... -o OUT`: traces from real programs, recorded with Valgrind.

import ArgumentParser
import VMTrace
import VMTraceLackey

struct Import: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Turn other tools' recordings into traces.",
        discussion: """
            Formats:
              lackey   Valgrind Lackey logs with system calls (scripts/record.sh makes them)
            """,
        subcommands: [ImportLackey.self]
    )
}

struct ImportLackey: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lackey",
        abstract: "Import Valgrind Lackey logs (one per process) into a trace.",
        discussion: """
            Each LOG is what one process wrote with
              valgrind --tool=lackey --trace-mem=yes --trace-syscalls=yes
                       --trace-children=yes --log-file=DIR/lk.%p.%n.log CMD...
            (gzip-compressed logs are read too). Lackey's I/L/S/M records become x/r/w \
            accesses (M: r then w); mmap, munmap, mprotect, madvise, mlock, brk and mremap \
            become mapping events, with open/openat/dup/close followed so that file mappings \
            name their file; fork-like clones become fork (the child's logs are merged where \
            fork returned), execve exec, thread clones and exits threads, the end of a \
            process's logs exit.

            The mappings that exist before a program's first system call (executable, loader, \
            stack) come from --layout: Valgrind's own segment list, which `valgrind -d` prints \
            on standard error at each program's start. Whatever an access still finds unmapped \
            is inferred from the accesses themselves; stderr says how many accesses needed that \
            and which regions were inferred.

            The logs are read twice (constant memory); the output's name picks its format as \
            for convert, and it appears only when complete. docs/recording.md describes the \
            recording, the rules and their limits.

            Examples:
              scripts/record.sh sort -n data.txt -o sort.vmt.gz
              vmreplay import lackey lk.*.log --layout vg-stderr.txt -o prog.vmt.gz
              vmreplay import lackey lk.1234.1.log -o - | less
            """
    )

    @Argument(help: "Lackey logs, one per process (any order).")
    var logs: [String]

    @Option(name: .shortAndLong, help: "The trace to write (- for text on standard output).")
    var output: String

    @Option(help: ArgumentHelp("Standard error of `valgrind -d` (startup layouts); repeatable.", valueName: "file"))
    var layout: [String] = []

    @Flag(help: "Skip and count lines that are not log lines instead of stopping at the first.")
    var keepGoing = false

    @Flag(help: "Drop a data access that repeats the previous access's kind on the same page (changes only TLB-hit and access counts; see docs/recording.md).")
    var merge = false

    @Flag(help: "Declare every mapped file resident (its pages start in the page cache).")
    var resident = false

    @Option(help: ArgumentHelp("The directory the program was started in (scripts/record.sh gives it): relative paths it opened become absolute.", valueName: "dir"))
    var cwd: String?

    @Flag(inversion: .prefixedNo, help: "Show a progress line on stderr (default: when stderr is a terminal).")
    var progress: Bool?

    @Option(help: "gzip compression level for a .gz output, 1 (fast) to 9 (small).")
    var level = 6

    func validate() throws {
        guard !logs.isEmpty else { throw ValidationError("give at least one log") }
        guard (1...9).contains(level) else { throw ValidationError("--level must be between 1 and 9") }
        if logs.contains(output) && output != "-" {
            throw ValidationError("the output \(output) is also a log")
        }
    }

    func run() throws {
        installOutputCleanupOnSignals()
        try runReportingErrors {
            var options = LackeyImportOptions()
            options.layoutPaths = layout
            options.keepGoing = keepGoing
            options.merge = merge
            options.resident = resident
            options.startDirectory = cwd
            let importer = LackeyImporter(logs: logs, options: options)
            let line = ProgressLine(label: "import", requested: progress)
            var lastDrawn = ContinuousClock.now
            importer.progress = { p in
                let now = ContinuousClock.now
                guard now - lastDrawn >= .milliseconds(250) else { return }
                lastDrawn = now
                line.show("\(Int((p.fraction * 100).rounded(.down)))%  pass \(p.pass) of 2 (\(p.pass == 1 ? "scanning" : "writing")), "
                    + "\(p.bytesRead / 1_000_000) of \(p.totalBytes / 1_000_000) MB of logs")
            }
            let summary: LackeyImportSummary
            do {
                defer { line.clear() }
                summary = try importer.run(output: output, compressionLevel: level)
            }
            reportSkipped(summary.skippedLines, summary.skippedErrors)
            for line in Self.describe(summary) { printToStandardError(line) }
        }
    }

    /// The summary printed on standard error.
    static func describe(_ s: LackeyImportSummary) -> [String] {
        func hex(_ v: UInt64) -> String { "0x" + String(v, radix: 16) }
        var out: [String] = []
        out.append("vmreplay: imported \(s.logs) log\(s.logs == 1 ? "" : "s"): \(s.processes) process\(s.processes == 1 ? "" : "es"), \(s.forks) fork\(s.forks == 1 ? "" : "s"), \(s.execs) exec\(s.execs == 1 ? "" : "s"), \(s.files) file\(s.files == 1 ? "" : "s"); \(s.accesses) access\(s.accesses == 1 ? "" : "es") from \(s.accessRecords) Lackey record\(s.accessRecords == 1 ? "" : "s") (M is a read and a write), \(s.events) events")
        out.append("vmreplay: startup layouts used: \(s.layoutsUsed); system calls applied: \(s.appliedSyscalls), failed: \(s.failedSyscalls), ignored: \(s.ignoredSyscalls.values.reduce(0, +))")
        if !s.ignoredSyscalls.isEmpty {
            let top = s.ignoredSyscalls.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }
            let shown = top.prefix(12).map { "\($0.key) \($0.value)" }.joined(separator: ", ")
            out.append("vmreplay:   ignored: \(shown)\(top.count > 12 ? ", ..." : "")")
        }
        out.append("vmreplay: \(s.inferredAccesses) access\(s.inferredAccesses == 1 ? "" : "es") needed an inferred mapping; \(s.inferredRegions.count) region\(s.inferredRegions.count == 1 ? "" : "s") inferred")
        for r in s.inferredRegions {
            out.append("vmreplay:   pid \(r.pid) \(hex(r.start))-\(hex(r.end)) \(r.protection)\(r.stack ? " stack" : ""): \(r.pages) distinct page\(r.pages == 1 ? "" : "s"), \(r.accesses) access\(r.accesses == 1 ? "" : "es")")
        }
        if !s.inferredRegions.isEmpty {
            let pages = s.inferredRegions.reduce(0) { $0 + $1.pages }
            out.append("vmreplay: note: inferred regions are anonymous memory: their \(pages) distinct page\(pages == 1 ? "" : "s") replay as zero-fill faults (v_zfod) even where the program really mapped a file (its executable, ld.so, libraries), so zero-fill and traps come out higher than with --layout (docs/recording.md has figures); scripts/record.sh passes --layout")
        }
        if s.kernelAddressAccesses > 0 {
            out.append("vmreplay: \(s.kernelAddressAccesses) access\(s.kernelAddressAccesses == 1 ? "" : "es") at kernel addresses (no mapping possible; the replay counts them as SIGSEGV)")
        }
        if s.unmappedAccesses > 0 {
            out.append("vmreplay: warning: \(s.unmappedAccesses) access\(s.unmappedAccesses == 1 ? "" : "es") still outside every mapping")
        }
        if s.mergedAccesses > 0 {
            out.append("vmreplay: --merge dropped \(s.mergedAccesses) repeated access\(s.mergedAccesses == 1 ? "" : "es")")
        }
        for n in s.notes { out.append("vmreplay: note: \(n)") }
        if !s.missingProgramLogs.isEmpty {
            let n = s.missingProgramLogs.count
            let names = s.missingProgramLogs.prefix(4).joined(separator: ", ") + (n > 4 ? ", ..." : "")
            out.append("vmreplay: warning: partial recording: the log\(n == 1 ? " is" : "s are") missing for \(n) exec'd program\(n == 1 ? "" : "s") (\(names)); their accesses are not in the trace"
                + (s.skippedLayouts > 0 ? ", and \(s.skippedLayouts) startup layout\(s.skippedLayouts == 1 ? "" : "s") of theirs went unused so that the next program starts in its own address space" : ""))
        }
        return out
    }
}
