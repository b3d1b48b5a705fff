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
            actual, delta), or when the golden was made from another trace; 65/66 for a bad \
            or missing file. --update rewrites the golden (atomically) from this replay.

            Examples:
              vmreplay check traces/ls.vmt.gz --expect traces/expected/ls.json
              vmreplay check t.vmt.gz --expect t.json --keys 'vm.stats.vm.*' --keys 'prefault.*'
              vmreplay check t.vmt.gz --expect t.json -s vm.prefault_pages=16 --update
            """
    )

    @Argument(help: "The trace to replay.")
    var trace: String

    @Option(help: ArgumentHelp("The golden report.", valueName: "golden.json"))
    var expect: String

    @OptionGroup var options: ReplayOptions

    @Option(help: ArgumentHelp("Compare only keys matching this glob (repeatable).", valueName: "glob"))
    var keys: [String] = []

    @Flag(help: "Rewrite the golden from this replay instead of comparing.")
    var update = false

    @Flag(name: .shortAndLong, help: "Print nothing when the check passes.")
    var quiet = false

    func run() throws {
        let overrides = try options.parsedSettings()
        try runReportingErrors {
            try refuseOutputOverInput(update ? expect : nil, option: "--update: --expect", inputs: [trace])
            installOutputCleanupOnSignals()
            var golden: Golden?
            if FileManager.default.fileExists(atPath: expect) || !update {
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
            // The golden's settings, then -s on top.
            var assignments = golden?.settings ?? []
            for s in overrides {
                guard s.values.count == 1 else {
                    printToStandardError("vmreplay: -s \(s.name) has several values; check takes one")
                    throw ExitCode(64)
                }
                assignments.removeAll { $0.name == s.name }
                assignments.append((s.name, s.values[0]))
            }
            var config = try options.configuration(assignments.map { ($0.name, $0.value) })
            if let golden {
                if options.physMem == nil { config.physicalMemory = golden.physicalMemory }
                if options.swap == nil { config.swap = golden.swap }
            }
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
            let outcome = GoldenCheck.compare(golden: golden, report: report, actualChecksum: checksum,
                                              keyGlobs: keys)
            if let mismatch = outcome.traceMismatch {
                printToStandardError("vmreplay: \(expect): \(mismatch)")
            }
            if !outcome.differences.isEmpty {
                try printToStandardOutput("vmreplay: \(trace): \(outcome.differences.count) of \(outcome.comparedKeys) keys differ from \(expect)\n")
                try printToStandardOutput(outcome.renderDifferences())
            }
            if outcome.passed {
                if !quiet {
                    var line = "vmreplay: \(trace): ok, \(outcome.comparedKeys) keys match \(expect)"
                    if !outcome.newKeys.isEmpty { line += " (\(outcome.newKeys.count) keys not in the golden; --update adds them)" }
                    try printToStandardOutput(line + "\n")
                }
            } else {
                throw ExitCode(1)
            }
        }
    }
}
