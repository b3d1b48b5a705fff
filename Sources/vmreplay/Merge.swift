// `vmreplay merge PART... -o RESULT`: join the partial results of a sharded sweep or check.
import ArgumentParser
import Foundation
import VMReplay
import VMTrace

struct Merge: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Join the partial results of `sweep --shard` or `check --shard` into the unsharded output.",
        discussion: """
            Each part is the JSON-lines output of one shard (`--shard K/N`). merge checks that \
            all parts come from the same study (traces, settings, format), that no item is in \
            two parts and that none is missing, then prints exactly what the command without \
            --shard prints. Nothing is written when a check fails.

            Exit status: 0; 64 no parts or bad options; 65 parts from different studies, \
            overlapping or missing items, damaged parts; 66 an unreadable part; and as the \
            merged command exits: 65 when a row failed, 1 when a check found differences.

            Examples:
              vmreplay merge part-*.jsonl -o sweep.csv --plot sweep.svg
              vmreplay merge check-1.jsonl check-2.jsonl
            """
    )

    @Argument(help: ArgumentHelp("The partial results, in any order.", valueName: "part"))
    var parts: [String]

    @Option(name: .shortAndLong, help: "Write the merged output to this file (atomically) instead of stdout.")
    var output: String?

    @Option(help: ArgumentHelp("A sweep's chart, as sweep --plot draws it.", valueName: "file.svg"))
    var plot: String?

    @Option(help: ArgumentHelp("With --plot: only this trace.", valueName: "name"))
    var plotTrace: String?

    func run() throws {
        try runReportingErrors {
            installOutputCleanupOnSignals()
            let (header, items) = try PartialResult.join(parts, describe: { h, i in
                (try? SweepPlan(partHeader: h, file: "")).map { $0.describe(item: i) }
                    ?? (try? CheckPlanHeader(partHeader: h)).map { $0.describe(item: i) } ?? "item \(i)"
            })
            switch header["command"]?.string {
            case "sweep":
                let plan = try SweepPlan(partHeader: header, file: parts[0])
                let rows = try items.enumerated().map { try plan.row(fromPart: $1, item: $0, file: parts[0]) }
                let result = CorpusSweepResult(plan: plan, rows: rows)
                for row in result.failedRows {
                    printToStandardError("vmreplay: \(plan.describe(item: row.item)): failed: \(row.failure ?? "")")
                }
                try emitSweep(result, plot: plot, plotTrace: plotTrace, to: output)
                if !result.failedRows.isEmpty { throw ExitCode(65) }
            case "check":
                guard plot == nil, plotTrace == nil else { throw TraceError(.usage, "--plot is for sweeps") }
                let plan = try CheckPlanHeader(partHeader: header)
                let outcomes = try items.enumerated().map { try plan.outcome(fromPart: $1, item: $0, file: parts[0]) }
                let summary = CheckSummary(outcomes: outcomes)
                try emit(summary.render(quiet: plan.quiet), to: output)
                if summary.exitCode != 0 { throw ExitCode(summary.exitCode) }
            default:
                throw TraceError(.dataError, file: parts[0], "a partial result of an unknown command")
            }
        }
    }
}
