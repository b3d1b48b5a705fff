// Options of a sweep over a corpus of traces (several files, a directory, an @list).
import ArgumentParser
import Foundation
import VMReplay
import VMTrace

struct SweepCorpusOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Replay up to N traces at a time (default: the number of cores).", valueName: "n"))
    var jobs: Int?

    @Option(help: ArgumentHelp("Run only the K-th of N slices of the (trace, setting) work list and write a partial result (JSON lines) for `vmreplay merge`. K counts from 1.", valueName: "K/N"))
    var shard: String?

    @Option(help: ArgumentHelp("Host memory each engine may use (processes, files, objects, map entries, resident pages, page tables; K/M/G/T suffixes). An engine that would pass it stops and its row is marked failed. Default: the machine's memory shared among the engines running at once.", valueName: "size"))
    var maxMemory: ByteSize?

    @Option(help: ArgumentHelp("With --plot over several traces: draw only this trace (name, with or without its suffix).", valueName: "name"))
    var plotTrace: String?

    /// Whether the arguments make a corpus sweep rather than the one-trace sweep (whose
    /// output a one-trace --shard or --max-memory run keeps).
    func isRequested(for traces: [String]) -> Bool { Corpus.isCorpus(traces) || shard != nil || maxMemory != nil }

    func jobCount() throws -> Int {
        let jobs = jobs ?? ProcessInfo.processInfo.activeProcessorCount
        guard jobs >= 1 else { throw TraceError(.usage, "--jobs must be at least 1") }
        return jobs
    }
}

/// Validates every combination's settings before anything runs (exit 64 on the first bad one).
func validateCombinations(_ combinations: [[(String, Int64)]], base: ReplayConfiguration) throws {
    for combo in combinations {
        do {
            _ = try Replayer(try Setting.configuration(combo, base: base))
        } catch {
            throw TraceError(.usage, "\(error)")
        }
    }
}

extension SweepCommand {
    /// `vmreplay sweep TRACE... | DIR | @list -s ...`: rows per (trace, setting).
    func runCorpusSweep(traces arguments: [String], settings: [Setting], base: ReplayConfiguration) throws {
        try runReportingErrors {
            installOutputCleanupOnSignals()
            let shard = try corpus.shard.map { try ShardSpec(parsing: $0) }
            if shard != nil, plot != nil {
                throw TraceError(.usage, "--plot with --shard: draw the chart when merging (vmreplay merge --plot)")
            }
            let jobs = try corpus.jobCount()
            let layout: SweepLayout = Corpus.isCorpus(arguments) ? .corpus : .single
            let plan = SweepPlan(traces: try Corpus.resolve(arguments), settings: settings, layout: layout, format: format,
                                 replayOptions: base.studyText(keepGoing: options.keepGoing))
            try validateCombinations(plan.combinations, base: base)
            if let name = corpus.plotTrace { _ = try plan.traces(named: name) }
            let items = shard?.items(costs: plan.costs)
            let running = max(1, min(jobs, plan.traces.count)) * plan.combinations.count
            let budget = corpus.maxMemory?.bytes ?? ProcessInfo.processInfo.physicalMemory / UInt64(running)
            let progress = CorpusProgress(total: Set((items ?? Array(0..<plan.itemCount)).map(plan.trace(ofItem:))).count,
                                          requested: options.progress)
            let rows = CorpusSweep.run(plan: plan, items: items, base: base, keepGoing: options.keepGoing,
                                       jobs: jobs, memoryBudget: budget, traceDone: progress.traceDone)
            progress.clear()
            let failed = rows.filter { $0.failure != nil }
            for row in failed {
                printToStandardError("vmreplay: \(plan.describe(item: row.item)): failed: \(row.failure ?? "")")
            }
            if let shard {
                // A shard's verdict is the merge's: failed rows are in the part.
                return try emit(plan.renderPart(shard: shard, rows: rows), to: output)
            } else {
                try emitSweep(CorpusSweepResult(plan: plan, rows: rows), plot: plot, plotTrace: corpus.plotTrace, to: output)
            }
            if !failed.isEmpty { throw ExitCode(65) }
        }
    }
}

/// Writes a complete corpus sweep (and its chart). A one-trace layout with failed rows prints
/// nothing, as the one-trace sweep stops at its first error.
func emitSweep(_ result: CorpusSweepResult, plot: String?, plotTrace: String?, to output: String?) throws {
    if result.plan.layout == .single, !result.failedRows.isEmpty { throw ExitCode(65) }
    if let plot { try writeTextFileAtomically(try result.renderPlot(onlyTrace: plotTrace), to: plot) }
    try emit(result.render(result.plan.format), to: output)
}

struct CheckCorpusOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Check the given traces against every golden in this directory (the golden names its trace).", valueName: "dir"))
    var expectDir: String?

    @Option(help: ArgumentHelp("Check up to N goldens at a time (default: the number of cores).", valueName: "n"))
    var jobs: Int?

    @Option(help: ArgumentHelp("Check only the K-th of N slices of the goldens and write a partial result for `vmreplay merge`.", valueName: "K/N"))
    var shard: String?
}

extension Check {
    /// `vmreplay check DIR_OR_TRACES... --expect-dir DIR`.
    func runCorpusCheck(traces arguments: [String], expectDir: String, overrides: [Setting]) throws {
        try runReportingErrors {
            installOutputCleanupOnSignals()
            guard expect == nil, keys.isEmpty else {
                throw TraceError(.usage, "--expect-dir takes neither --expect nor --keys")
            }
            let shard = try corpus.shard.map { try ShardSpec(parsing: $0) }
            let jobs = corpus.jobs ?? ProcessInfo.processInfo.activeProcessorCount
            guard jobs >= 1 else { throw TraceError(.usage, "--jobs must be at least 1") }
            let items = try CorpusCheck.items(traces: try Corpus.resolve(arguments), directory: expectDir)
            let indices = shard?.items(costs: items.map(\.trace.checksum.bytes)) ?? Array(items.indices)
            for s in overrides where s.values.count != 1 {
                throw TraceError(.usage, "-s \(s.name) has several values; check takes one")
            }
            let options = self.options
            let results = CorpusCheck.run(indices.map { items[$0] }, update: update, keepGoing: options.keepGoing,
                                          jobs: jobs) { golden in
                try options.checkConfiguration(golden: golden, overrides: overrides)
            }
            let outcomes = results.map(\.outcome)
            let summary = CheckSummary(outcomes: outcomes)
            if update, summary.exitCode == 0 {
                for (i, result) in zip(indices, results) {
                    if let fresh = result.fresh { try writeTextFileAtomically(fresh, to: items[i].goldenPath) }
                }
            }
            if let shard {
                // The verdict (exit 1 or 65) is the merge's.
                return try emit(CorpusCheck.renderPart(items: items, indices: indices, outcomes: outcomes, shard: shard,
                                                       update: update, quiet: quiet, options: studyOptions(overrides)), to: nil)
            } else {
                try printToStandardOutput(summary.render(quiet: quiet))
            }
            if summary.exitCode != 0 { throw ExitCode(summary.exitCode) }
        }
    }
}

extension Check {
    /// What besides the goldens decides a corpus check's outcome, for its study ID.
    func studyOptions(_ overrides: [Setting]) -> String {
        var text = overrides.map { "\($0.name)=\($0.values.map(String.init).joined(separator: ","))" }.joined(separator: " ")
        text += " phys_mem=\(options.physMem.map { String($0.bytes) } ?? "golden")"
        text += " swap=\(options.swap.map { String($0.bytes) } ?? "golden") keep_going=\(options.keepGoing)"
        if options.checkInvariants { text += " invariants_every=\(options.invariantInterval)" }
        return text
    }
}

extension ReplayOptions {
    /// A check's replay configuration: the golden's settings (and memory sizes), then -s on
    /// top (one value each). Returns the assignments a fresh golden records.
    func checkConfiguration(golden: Golden?, overrides: [Setting]) throws
        -> (ReplayConfiguration, [(name: String, value: Int64)])
    {
        var assignments = golden?.settings ?? []
        for s in overrides {
            guard s.values.count == 1 else {
                printToStandardError("vmreplay: -s \(s.name) has several values; check takes one")
                throw ExitCode(64)
            }
            assignments.removeAll { $0.name == s.name }
            assignments.append((s.name, s.values[0]))
        }
        var config = try configuration(assignments.map { ($0.name, $0.value) })
        if let golden {
            // -s vmreplay.phys_mem / vmreplay.swap on the command line win, as --phys-mem does.
            if physMem == nil && !overrides.contains(where: { $0.name == MachineSetting.physicalMemory.rawValue }) {
                config.physicalMemory = golden.physicalMemory
            }
            if swap == nil && !overrides.contains(where: { $0.name == MachineSetting.swap.rawValue }) {
                config.swap = golden.swap
            }
        }
        return (config, assignments)
    }
}

/// "sweep: 3/9 traces done (ls.vmt.gz)" on stderr while a corpus runs, when it is a terminal.
final class CorpusProgress: @unchecked Sendable {
    private let total: Int
    private let enabled: Bool
    private var done = 0
    private let lock = NSLock()

    init(total: Int, requested: Bool?) {
        self.total = total
        enabled = requested ?? (isatty(2) != 0)
    }

    func traceDone(_ name: String) {
        guard enabled else { return }
        lock.lock()
        done += 1
        let line = "\r\u{1B}[Ksweep: \(done)/\(total) traces done (\(name))"
        lock.unlock()
        FileHandle.standardError.write(Data(line.utf8))
    }

    func clear() {
        if enabled { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
    }
}
