// `vmreplay check TRACE --expect GOLDEN.json`: keep a trace's counters under regression.
import ArgumentParser
import Foundation
import VMReplay
import VMTrace

struct Check: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Replay a trace and compare its counters with a golden report.",
        discussion: """
            The golden (JSON, written by --update) records the trace's checksum, the \
            settings it was made with and every deterministic report key. check replays the \
            trace with those settings (-s overrides them) and compares every golden key; \
            wall-clock keys (replay.*_seconds, replay.*_per_second) are never compared. \
            Exit 0 when all are equal; 1 with a table of the keys that differ (golden, \
            actual, delta, delta%), or when the golden was made from another trace \
            (--ignore-checksum compares anyway); 65/66 for a bad or missing file (a missing \
            golden: run with --update). --tolerance lets keys differ by N units or X% of \
            the golden value; keys within it pass and are listed. --update rewrites the golden (atomically) from this replay.

            Examples:
              vmreplay check traces/ls.vmt.gz --expect traces/expected/ls.json
              vmreplay check t.vmt.gz --expect t.json --keys 'vm.stats.vm.*' --keys 'prefault.*'
              vmreplay check t.vmt.gz --expect t.json -s vm.prefault_pages=16 --update
              vmreplay check t.vmt.gz --expect t.json --tolerance 0.5% --tolerance 'trap.*=0'

            Corpus: with --expect-dir DIR, every golden in DIR whose trace is among the given \
            traces (files, directories, @lists) is checked, up to --jobs at a time, with one \
            summary table; a trace without a golden is MISSING (--update writes DIR/STEM.json; \
            it writes nothing unless every replay succeeded). Exit 1 if any golden differs or \
            is missing, 65 if a replay failed. --shard K/N checks one slice (merge with \
            `vmreplay merge`).
              vmreplay check traces/ --expect-dir traces/expected
            """
    )

    @Argument(help: "The trace to replay (with --expect-dir: traces, directories of traces or @lists).")
    var trace: String

    @Argument(help: ArgumentHelp("More traces (with --expect-dir).", valueName: "trace"))
    var moreTraces: [String] = []

    @Option(help: ArgumentHelp("The golden report.", valueName: "golden.json"))
    var expect: String?

    @OptionGroup(title: "Corpus") var corpus: CheckCorpusOptions

    @OptionGroup var options: ReplayOptions

    @Option(help: ArgumentHelp("Compare only keys matching this glob (repeatable).", valueName: "glob"))
    var keys: [String] = []

    @Option(help: ArgumentHelp("Let keys differ by up to N (units) or X% of the golden value: for all keys, or KEY=N / KEY=X% for the keys a glob matches (repeatable; the first matching glob wins).", valueName: "limit"))
    var tolerance: [String] = []

    @Flag(help: "Compare even if the golden was made from another trace (a re-recorded program); per-process keys are then matched by command name (proc.NAME#N.*), not pid.")
    var ignoreChecksum = false

    @Flag(help: "Rewrite the golden from this replay instead of comparing.")
    var update = false

    @Flag(name: .shortAndLong, help: "Print nothing when the check passes.")
    var quiet = false

    func run() throws {
        let overrides = try options.parsedSettings()
        let tolerances: Tolerances
        do { tolerances = try Tolerances(parsing: tolerance) } catch {
            printToStandardError("vmreplay: --tolerance: \(error.description)")
            throw ExitCode(64)
        }
        if let expectDir = corpus.expectDir {
            return try runCorpusCheck(traces: [trace] + moreTraces, expectDir: expectDir, overrides: overrides)
        }
        guard let expect, moreTraces.isEmpty else {
            printToStandardError("vmreplay: check takes one trace and --expect GOLDEN, or traces and --expect-dir DIR")
            throw ExitCode(64)
        }
        try runReportingErrors {
            try refuseOutputOverInput(update ? expect : nil, option: "--update: --expect", inputs: [trace])
            installOutputCleanupOnSignals()
            var golden: Golden?
            if FileManager.default.fileExists(atPath: expect) || !update {
                guard FileManager.default.fileExists(atPath: expect) else {
                    throw TraceError(.noInput, file: expect, "no such golden; run with --update to create it from this trace")
                }
                guard let data = FileManager.default.contents(atPath: expect) else {
                    throw TraceError(.noInput, file: expect, "cannot read the golden")
                }
                do {
                    golden = try Golden(json: String(decoding: data, as: UTF8.self), file: expect)
                } catch let error as TraceError where update {
                    // A corrupt golden is what --update is for: made afresh from defaults and -s.
                    printToStandardError(error.description + " (--update replaces it)")
                }
            }
            if let golden {
                let goldenKeys = golden.values.map(\.key)
                let unmatched = KeySelection(keys).unmatched(by: goldenKeys).map { "--keys '\($0)'" }
                    + tolerances.unmatchedGlobs(by: goldenKeys).map { "--tolerance '\($0)=...'" }
                if let option = unmatched.first {
                    printToStandardError("vmreplay: \(option) matches no key of \(expect) (keys look like vm.stats.vm.v_zfod, prefault.hits)")
                    throw ExitCode(64)
                }
            }
            let (config, assignments) = try options.checkConfiguration(golden: golden, overrides: overrides)
            let checksum = try TraceChecksum.of(path: trace)
            let progress = ProgressLine(label: "check", requested: options.progress)
            let report = try runReplayJob(trace: trace, progress: progress) {
                try ReplayDriver.run(path: trace, configuration: config, keepGoing: options.keepGoing,
                                     progress: progress.update).0
            }
            let name = trace.split(separator: "/").last.map(String.init) ?? trace
            if update {
                let fresh = Golden(traceName: name, checksum: checksum, settings: assignments,
                                   configuration: config, report: report)
                try writeTextFileAtomically(fresh.renderJSON(), to: expect)
                if !quiet { try printToStandardOutput("vmreplay: wrote \(expect) (\(fresh.values.count) keys)\n") }
                return
            }
            guard let golden else { return }
            let (compared, actual) = ignoreChecksum ? GoldenCheck.matchingProcessesByName(golden, report) : (golden, report)
            let outcome = GoldenCheck.compare(golden: compared, report: actual,
                                              actualChecksum: ignoreChecksum ? golden.checksum : checksum,
                                              keyGlobs: keys, tolerances: tolerances)
            if let mismatch = outcome.traceMismatch {
                printToStandardError("vmreplay: \(expect): \(mismatch)")
            }
            if !outcome.differences.isEmpty {
                try printToStandardOutput("vmreplay: \(trace): \(outcome.differences.count) of \(outcome.comparedKeys) keys differ from \(expect)"
                    + (outcome.tolerated.isEmpty ? "" : " (\(outcome.tolerated.count) more within --tolerance)") + "\n")
                try printToStandardOutput(outcome.renderDifferences())
                if !outcome.newKeys.isEmpty { try printToStandardOutput(CheckReport.newKeysLine(outcome.newKeys)) }
            }
            if outcome.passed {
                if !quiet {
                    var line = "vmreplay: \(trace): ok, \(outcome.comparedKeys) keys match \(expect)"
                    if !outcome.tolerated.isEmpty { line += " (\(outcome.tolerated.count) within --tolerance)" }
                    try printToStandardOutput(line + "\n")
                    if !outcome.tolerated.isEmpty { try printToStandardOutput(CheckOutcome.renderTable(outcome.tolerated)) }
                }
                if !quiet, !outcome.newKeys.isEmpty { try printToStandardOutput(CheckReport.newKeysLine(outcome.newKeys)) }
            } else {
                throw ExitCode(1)
            }
        }
    }
}
