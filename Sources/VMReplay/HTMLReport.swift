// `replay --html` / `sweep --html`: one self-contained page (inline CSS and SVG, no script, no
// network) with the summary, the attribution table, the timeline and, for sweeps, the charts.
import Foundation
import VMKernel

public enum HTMLReport {
    /// The page for one replay.
    public static func replay(_ report: Report, table: AttributionTable?, timeline: Timeline?, title: String) -> String {
        var body = "<h1>vmreplay: \(esc(title))</h1>\n"
        body += "<p class=\"sub\">\(esc(settingsLine(report)))</p>\n"
        body += "<section><h2>Summary</h2>\n<ul class=\"summary\">"
            + report.summaryLines().map { "<li>\(esc($0))</li>" }.joined() + "</ul>\n" + cards(report) + "</section>\n"
        if let timeline {
            body += "<section><h2>Timeline</h2>\n<p class=\"note\">Counters per window of \(Report.grouped(.int(Int64(clamping: timeline.windowWidth)))) "
                + "accesses; hover a bar or tick for its figures.</p>\n<div class=\"chart\">"
                + timeline.renderSVG(title: "Faults over the trace") + "</div></section>\n"
        }
        if let table { body += "<section><h2>Where the faults come from (by \(table.grouping.rawValue))</h2>\n" + attributionHTML(table) + "</section>\n" }
        body += "<section><h2>Every key</h2>\n<details><summary>\(report.entries.count) keys, grouped as in the text report</summary>\n"
            + keysHTML(report) + "</details></section>\n"
        return page(title: "vmreplay: " + title, body: body)
    }

    /// The page for a sweep: its table, its charts, and the timelines of the settings overlaid.
    public static func sweep(_ result: SweepResult, timelines: [Timeline]?, title: String) -> String {
        var body = "<h1>vmreplay sweep: \(esc(title))</h1>\n"
        body += "<p class=\"sub\">\(result.rows.count) settings from one decode of the trace; the baseline row is marked.</p>\n"
        body += "<section><h2>Settings compared</h2>\n" + sweepTableHTML(result) + "</section>\n"
        body += "<section><h2>Charts</h2>\n<div class=\"chart\">" + SweepPlot.render(result, title: title) + "</div></section>\n"
        if let timelines, !timelines.isEmpty {
            let labels = result.rows.map { $0.settings.map { "\($0.name)=\($0.value)" }.joined(separator: " ") }
            body += "<section><h2>Traps over the trace, per setting</h2>\n<div class=\"chart\">"
                + Timeline.renderOverlaySVG(Array(zip(labels, timelines)), title: "Traps per window") + "</div></section>\n"
        }
        return page(title: "vmreplay sweep: " + title, body: body)
    }

    static func page(title: String, body: String) -> String {
        """
        <!DOCTYPE html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <link rel="icon" href="data:,">
        <title>\(esc(title))</title>
        <style>
        body { font-family: Helvetica, Arial, sans-serif; margin: 24px auto; max-width: 1200px; color: #222; padding: 0 16px; }
        h1 { font-size: 22px; margin-bottom: 4px; }
        h2 { font-size: 17px; border-bottom: 1px solid #ccc; padding-bottom: 4px; margin-top: 28px; }
        .sub, .note { color: #555; font-size: 13px; }
        ul.summary { font-family: Menlo, Consolas, monospace; font-size: 13px; }
        .cards { display: flex; flex-wrap: wrap; gap: 10px; }
        .card { border: 1px solid #ddd; border-radius: 6px; padding: 8px 14px; min-width: 110px; background: #fafafa; }
        .card .v { font-size: 20px; font-weight: bold; }
        .card .k { font-size: 11px; color: #666; }
        table { border-collapse: collapse; font-size: 12px; }
        th, td { padding: 3px 8px; border-bottom: 1px solid #eee; white-space: nowrap; }
        th { background: #f2f2f2; text-align: left; position: sticky; top: 0; }
        td.n { text-align: right; font-variant-numeric: tabular-nums; }
        tr.total td { font-weight: bold; border-top: 2px solid #999; }
        tr.base td { background: #fff7d6; }
        .scroll { overflow-x: auto; }
        .chart svg { max-width: 100%; height: auto; }
        td.group { font-weight: bold; background: #f7f7f7; }
        </style>
        </head>
        <body>
        \(body)<p class="note">Made by vmreplay. Counters follow DragonFly BSD's names (vm.stats.vm.*, rusage.*); see the README.</p>
        </body>
        </html>

        """
    }

    static func esc(_ s: String) -> String { SweepPlot.xml(s) }

    private static func number(_ v: UInt64) -> String { Report.grouped(.int(Int64(clamping: v))) }

    private static func settingsLine(_ report: Report) -> String {
        let defaults = Report.defaultTunables
        let changed = report.entries.filter { e in defaults[e.key].map { $0 != e.value } ?? false }
        let events = report["replay.events"].map { Report.grouped($0) } ?? "?"
        return "\(events) events; " + (changed.isEmpty ? "default tunables" : "tunables: " + changed.map { "\($0.key)=\($0.value)" }.joined(separator: ", "))
    }

    private static func cards(_ report: Report) -> String {
        let figures: [(String, String)] = [
            ("trap.page_faults", "page-fault traps"), ("vm.stats.vm.v_vm_faults", "v_vm_faults"), ("vm.stats.vm.v_zfod", "zero-fill"),
            ("vm.stats.vm.v_cow_faults", "copy-on-write"), ("rusage.ru_majflt", "major (ru_majflt)"), ("prefault.hits", "prefault hits"),
            ("prefault.unused", "prefaults never used"), ("trap.sigsegv", "SIGSEGV"),
        ]
        return "<div class=\"cards\">" + figures.map { key, label in
            "<div class=\"card\"><div class=\"v\">\(report[key].map { Report.grouped($0) } ?? "-")</div><div class=\"k\">\(esc(label))</div></div>"
        }.joined() + "</div>\n"
    }

    private static func attributionHTML(_ table: AttributionTable) -> String {
        let columns = FaultTally.Column.allCases
        var out = "<div class=\"scroll\"><table>\n<tr>" + table.identityColumns.map { "<th>\(esc($0))</th>" }.joined()
            + columns.map { "<th title=\"\(esc($0.key))\">\(esc($0.header))</th>" }.joined() + "</tr>\n"
        for r in table.rows {
            out += "<tr>" + r.identity.map { "<td>\(esc($0.value))</td>" }.joined()
                + columns.map { "<td class=\"n\">\(number(r.tally[$0]))</td>" }.joined() + "</tr>\n"
        }
        let totals = table.totals
        out += "<tr class=\"total\"><td>total</td>" + String(repeating: "<td></td>", count: max(table.identityColumns.count - 1, 0))
            + columns.map { "<td class=\"n\">\(number(totals[$0]))</td>" }.joined() + "</tr>\n"
        return out + "</table></div>\n"
    }

    private static func keysHTML(_ report: Report) -> String {
        var out = "<table>\n"
        var group = ""
        for (key, value) in report.entries {
            let g = Report.group(of: key)
            if g != group {
                out += "<tr><td class=\"group\" colspan=\"2\">\(esc(g))</td></tr>\n"
                group = g
            }
            out += "<tr><td>\(esc(key))</td><td class=\"n\">\(esc(Report.grouped(value)))</td></tr>\n"
        }
        return out + "</table>\n"
    }

    private static func sweepTableHTML(_ result: SweepResult) -> String {
        let lines = result.tableCells()
        guard let header = lines.first else { return "" }
        var out = "<div class=\"scroll\"><table>\n<tr>" + header.map { "<th>\(esc($0))</th>" }.joined() + "</tr>\n"
        for (i, cells) in lines.dropFirst().enumerated() {
            out += "<tr\(i == result.baselineIndex ? " class=\"base\"" : "")>" + cells.map { "<td class=\"n\">\(esc($0))</td>" }.joined() + "</tr>\n"
        }
        return out + "</table></div>\n"
    }
}

extension Report {
    /// The default tunables as report values, to say which settings a report changed.
    static var defaultTunables: [String: ReportValue] {
        let defaults = Tunables()
        var values: [String: ReportValue] = [:]
        for d in Sysctl.all { values[d.name] = .int(Int64(defaults[keyPath: d.keyPath])) }
        return values
    }
}
