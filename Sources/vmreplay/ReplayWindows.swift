// `replay --skip N --warmup N --window N`: access windows (drcachesim's -skip_refs,
// -warmup_refs, perf stat -I).
import ArgumentParser
import VMReplay

struct WindowOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Drop the first N accesses (mappings and processes still apply). K/M/G suffixes (decimal).", valueName: "n"))
    var skip: Count?

    @Option(help: ArgumentHelp("Then simulate N accesses without counting them (warm TLBs, page tables, page cache).", valueName: "n"))
    var warmup: Count?

    @Option(help: ArgumentHelp("Report what happened in every N counted accesses: a table, one row per window, before the report (text) or alone (csv).", valueName: "n"))
    var window: Count?

    /// The windows asked for, nil when none (the replay takes its fast path).
    func windows(format: ReportFormat) throws -> AccessWindows? {
        let w = AccessWindows(skip: UInt64(skip?.value ?? 0), warmup: UInt64(warmup?.value ?? 0),
                              window: UInt64(window?.value ?? 0))
        if window != nil {
            guard w.window > 0 else {
                printToStandardError("vmreplay: --window must be at least 1")
                throw ExitCode(64)
            }
            guard format == .text || format == .csv else {
                printToStandardError("vmreplay: --window prints a table: use --format text or csv")
                throw ExitCode(64)
            }
        }
        return w.isEmpty ? nil : w
    }
}

func runWindowedReplay(trace: String, configuration: ReplayConfiguration, windows: AccessWindows,
                       keepGoing: Bool, format: ReportFormat, output: String?) throws
{
    let result = try runReplayJob(trace: trace, progress: ProgressLine(label: "replay", requested: false)) {
        try ReplayDriver.runWindowed(path: trace, configuration: configuration, windows: windows, keepGoing: keepGoing)
    }
    reportSkipped(result.skipped, result.samples)
    var text = ""
    if windows.window > 0 {
        text = result.renderWindows(csv: format == .csv)
        if format == .text { text += "\n" + result.report.render(.text) }
    } else {
        text = result.report.render(format)
    }
    try emit(text, to: output)
}
