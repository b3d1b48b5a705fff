// The options that explain a replay's counters: where they come from (--by), when (--timeline),
// and the one-page HTML report (--html).
import ArgumentParser
import VMReplay
import VMTrace

extension AttributionGrouping: ExpressibleByArgument {}

/// The files a replay or a sweep can draw besides its report: timeline and HTML page.
struct InsightFileOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Draw the counters per window of accesses as SVG (replay: stacked zero-fill, COW, major, prefault-served; sweep: each setting's traps as a line; fork/exec/exit/munmap marked).", valueName: "file.svg"))
    var timeline: String?

    @Option(name: .customLong("timeline-csv"), help: ArgumentHelp("Write the counters per window of accesses as CSV (sweep: settings first).", valueName: "file.csv"))
    var timelineCSV: String?

    @Option(help: ArgumentHelp("Most windows in the timeline: each window is a power-of-two number of accesses, so the trace fills between half of them and all.", valueName: "n"))
    var windows: Int = 200

    @Option(help: ArgumentHelp("Write a one-page, self-contained HTML report (summary or sweep table, attribution, charts, timeline).", valueName: "file.html"))
    var html: String?

    func validate() throws {
        guard windows >= 2 && windows <= 100_000 else { throw ValidationError("--windows must be between 2 and 100000") }
    }

    var wantsTimeline: Bool { timeline != nil || timelineCSV != nil || html != nil }
}

struct InsightOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Add a table of the counters charged to each mapping (as the trace's mmap event created it), process or object.", valueName: "mapping|process|object"))
    var by: AttributionGrouping?

    @Option(help: ArgumentHelp("Rows of the --by table, most traps first; the rest are summed in one row (default: 20 in text, all in json/csv/sysctl).", valueName: "n"))
    var top: Int?

    @OptionGroup var files: InsightFileOptions

    func validate() throws {
        if let top, top < 0 { throw ValidationError("--top must not be negative") }
        if top != nil && by == nil { throw ValidationError("--top needs --by") }
    }

    var wanted: Bool { by != nil || files.wantsTimeline }

    /// Attaches a recorder to `replayer` when any of the options asks for one.
    func recorder(for replayer: Replayer) -> InsightRecorder? {
        guard wanted else { return nil }
        return InsightRecorder(replayer: replayer, attribute: by != nil || files.html != nil,
                               timelineWindows: files.wantsTimeline ? files.windows : nil)
    }

    /// Writes the timeline and HTML files, and returns the report as the command prints it.
    func finish(_ report: Report, recorder: InsightRecorder?, format: ReportFormat, trace: String) throws -> String {
        guard let recorder else { return report.render(format) }
        let (tables, timeline) = recorder.finish(report: report)
        let name = trace.split(separator: "/").last.map(String.init) ?? trace
        if let timeline {
            if let path = files.timeline { try writeTextFileAtomically(timeline.renderSVG(title: "vmreplay timeline: " + name), to: path) }
            if let path = files.timelineCSV { try writeTextFileAtomically(timeline.renderCSV(), to: path) }
        }
        if let path = files.html {
            let table = tables[by ?? .mapping]?.limited(to: top ?? 40)
            try writeTextFileAtomically(HTMLReport.replay(report, table: table, timeline: timeline, title: name), to: path)
        }
        guard let by, let table = tables[by] else { return report.render(format) }
        return report.render(format, with: table.limited(to: top ?? (format == .text ? 20 : nil)))
    }
}

/// `sweep --timeline` / `--timeline-csv` / `--html`: the settings' timelines side by side.
struct SweepInsightOptions: ParsableArguments {
    @OptionGroup var files: InsightFileOptions

    /// Collects one recorder per engine (SweepDriver's `prepare`).
    final class Recorders: @unchecked Sendable {
        var byEngine: [Int: InsightRecorder] = [:]
    }

    func prepare(_ recorders: Recorders) -> ((Int, Replayer) -> Void)? {
        guard files.wantsTimeline else { return nil }
        let windows = files.windows
        return { index, replayer in
            recorders.byEngine[index] = InsightRecorder(replayer: replayer, attribute: false, timelineWindows: windows)
        }
    }

    /// Writes the timeline and HTML files.
    func finish(_ result: SweepResult, recorders: Recorders, trace: String) throws {
        let name = trace.split(separator: "/").last.map(String.init) ?? trace
        var timelines: [Timeline] = []
        if files.wantsTimeline {
            for (i, row) in result.rows.enumerated() {
                guard let t = recorders.byEngine[i]?.finish(report: row.report).timeline else { continue }
                timelines.append(t)
            }
        }
        let labelled = zip(result.rows, timelines).map { row, t in
            (label: row.settings.map { "\($0.name)=\($0.value)" }.joined(separator: " "), timeline: t)
        }
        if let path = files.timeline {
            try writeTextFileAtomically(Timeline.renderOverlaySVG(labelled, title: "vmreplay sweep timeline: " + name), to: path)
        }
        if let path = files.timelineCSV {
            try writeTextFileAtomically(Timeline.renderCSV(zip(result.rows, timelines).map { (settings: $0.settings, timeline: $1) }), to: path)
        }
        if let path = files.html {
            try writeTextFileAtomically(HTMLReport.sweep(result, timelines: timelines, title: name), to: path)
        }
    }
}
