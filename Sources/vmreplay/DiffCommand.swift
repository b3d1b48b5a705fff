// `vmreplay diff A.json B.json`: what changed between two reports.
import ArgumentParser
import VMReplay
import VMTrace

struct DiffCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "diff",
        abstract: "Show the report keys that changed between two JSON reports.",
        discussion: """
            A and B are reports (replay --format json), goldens (check --update) or sweep \
            rows (sweep --format json; FILE#N is the N-th row, from 1). Prints each key \
            whose value changed with A, B, the difference and the relative change, under the \
            text report's group headings, then, when both are --by reports, the rows (mappings, \
            processes or objects) whose counters moved most. Wall-clock keys \
            (replay.*_seconds, *_per_second) are never compared. Nothing is printed when \
            the reports agree. This is also how `check` prints its differences.

            Exit status: 0 same, 1 different (as diff(1)), 65 not a report, 66 missing file.

            Examples:
              vmreplay replay t.vmt.gz --format json --by mapping -o a.json
              vmreplay replay t.vmt.gz --format json --by mapping -s vm.prefault_pages=16 -o b.json
              vmreplay diff a.json b.json
              vmreplay diff sweep.json#1 sweep.json#4
              vmreplay diff traces/expected/ls.json a.json
            """
    )

    @Argument(help: "The first report (A).")
    var a: String

    @Argument(help: "The second report (B).")
    var b: String

    @Option(help: ArgumentHelp("Rows of the moved-rows table.", valueName: "n"))
    var top: Int = 10

    @Flag(name: .shortAndLong, help: "Print nothing; only the exit status tells.")
    var quiet = false

    func run() throws {
        try runReportingErrors {
            let diff = ReportDiff(try DiffSide.load(a), try DiffSide.load(b))
            guard !diff.isEmpty else { return }
            if !quiet {
                try printToStandardOutput("vmreplay: \(diff.changes.count) of \(diff.comparedKeys) keys differ (A = \(a), B = \(b))\n")
                try printToStandardOutput(diff.render(topRows: max(top, 0)))
            }
            throw ExitCode(1)
        }
    }
}
