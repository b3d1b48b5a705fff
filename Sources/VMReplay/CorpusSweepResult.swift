// Presenting a corpus sweep: the table, CSV, JSON, sysctl listing and SVG of all its rows.
// The same functions render a one-process run and a merge of shards, so the two print the same
// bytes.
import Foundation
import VMTrace

public struct CorpusSweepResult: Sendable {
    public var plan: SweepPlan
    /// Every item's row, in item order.
    public var rows: [CorpusRow]

    public init(plan: SweepPlan, rows: [CorpusRow]) {
        self.plan = plan
        self.rows = rows
    }

    public var failedRows: [CorpusRow] { rows.filter { $0.failure != nil } }

    /// The rows of one trace as a one-trace sweep (failed rows left out).
    func sweepResult(trace t: Int) -> SweepResult {
        let per = plan.combinations.count
        let mine = rows[t * per..<(t + 1) * per].compactMap { row -> SweepRow? in
            guard let report = row.report else { return nil }
            let combo = plan.combinations[plan.combination(ofItem: row.item)]
            return SweepRow(settings: combo.map { (name: $0.0, value: $0.1) }, report: report)
        }
        return SweepResult(rows: mine, skippedEvents: 0, skippedSamples: [], wallSeconds: 0)
    }

    public func render(_ format: ReportFormat) -> String {
        if plan.layout == .single, plan.traces.count == 1 { return sweepResult(trace: 0).render(format) }
        switch format {
        case .text: return renderTable()
        case .csv: return renderCSV()
        case .json: return renderJSON()
        case .sysctl: return renderSysctl()
        }
    }

    private func settingsCells(_ row: CorpusRow) -> [(name: String, value: Int64)] {
        plan.combinations[plan.combination(ofItem: row.item)].map { (name: $0.0, value: $0.1) }
    }

    /// The one-trace table with a trace column first; each trace has its own baseline row.
    func renderTable() -> String {
        var table: [[String]] = []
        let settingNames = plan.settings.map(\.name)
        table.append(["trace"] + settingNames + SweepResult.tableColumns.map(\.header) + ["hit%", "peak.pages", "traps vs base"])
        let per = plan.combinations.count
        for t in plan.traces.indices {
            let ok = sweepResult(trace: t)
            // The one-trace table's body rows (its baseline is this trace's own).
            var okCells = ok.tableCells().dropFirst().makeIterator()
            for row in rows[t * per..<(t + 1) * per] {
                if let failure = row.failure {
                    var cells = [plan.traces[t].name] + settingsCells(row).map { String($0.value) }
                    cells += Array(repeating: "-", count: SweepResult.tableColumns.count + 2)
                    cells.append("FAILED: " + failure)
                    table.append(cells)
                } else {
                    table.append([plan.traces[t].name] + (okCells.next() ?? []))
                }
            }
        }
        // Names read best left-aligned: padded to one width, alignTable leaves them so.
        let width = table.map { $0.first?.count ?? 0 }.max() ?? 0
        for i in table.indices where !table[i].isEmpty {
            table[i][0] += String(repeating: " ", count: width - table[i][0].count)
        }
        return alignTable(table)
    }

    /// CSV: trace, crc32, bytes, the settings, status, then every report key (their union).
    func renderCSV() -> String {
        var keys: [String] = []
        var seen = Set<String>()
        for row in rows {
            for (k, _) in row.report?.entries ?? [] where seen.insert(k).inserted { keys.append(k) }
        }
        let settingNames = plan.settings.map { "sweep." + $0.name }
        var out = (["trace", "trace.crc32", "trace.bytes"] + settingNames + ["status"] + keys).map(csvField).joined(separator: ",") + "\n"
        for row in rows {
            let trace = plan.traces[plan.trace(ofItem: row.item)]
            var cells = [csvField(trace.name), String(trace.checksum.crc32), String(trace.checksum.bytes)]
            cells += settingsCells(row).map { String($0.value) }
            cells.append(csvField(row.failure.map { "failed: " + $0 } ?? "ok"))
            cells += keys.map { row.report?[$0]?.description ?? "" }
            out += cells.joined(separator: ",") + "\n"
        }
        return out
    }

    /// JSON: one object per row: trace identity, settings, status, and the report or the error.
    func renderJSON() -> String {
        var out = "[\n"
        for (i, row) in rows.enumerated() {
            out += "  " + rowJSON(row)
            out += i + 1 < rows.count ? ",\n" : "\n"
        }
        return out + "]\n"
    }

    func rowJSON(_ row: CorpusRow) -> String {
        let trace = plan.traces[plan.trace(ofItem: row.item)]
        let settings = settingsCells(row).map { "\"\(jsonEscaped($0.name))\": \($0.value)" }.joined(separator: ", ")
        var out = "{\"trace\": {\"name\": \"\(jsonEscaped(trace.name))\", \"crc32\": \(trace.checksum.crc32), \"bytes\": \(trace.checksum.bytes)}, "
        out += "\"settings\": {\(settings)}, "
        if let failure = row.failure {
            out += "\"status\": \"failed\", \"error\": \"\(jsonEscaped(failure))\"}"
        } else {
            out += "\"status\": \"ok\", \"report\": \(row.report?.renderJSON(pretty: false) ?? "{}")}"
        }
        return out
    }

    func renderSysctl() -> String {
        rows.map { row in
            let trace = plan.traces[plan.trace(ofItem: row.item)]
            var head = "# trace=\(trace.name) \(trace.checksum)"
            for s in settingsCells(row) { head += " \(s.name)=\(s.value)" }
            if let failure = row.failure { return head + "\n# failed: \(failure)\n" }
            return head + "\n" + (row.report?.renderSysctl() ?? "")
        }.joined(separator: "\n")
    }

    /// The SVG: the one-trace chart of each trace (or only `onlyTrace`), stacked.
    public func renderPlot(onlyTrace: String? = nil) throws -> String {
        let indices = try onlyTrace.map { try plan.traces(named: $0) } ?? Array(plan.traces.indices)
        if indices.count == 1, let only = indices.first {
            return SweepPlot.render(sweepResult(trace: only), title: plan.traces[only].name)
        }
        var body = ""
        var y = 0, width = 0
        for t in indices {
            let chart = SweepPlot.render(sweepResult(trace: t), title: plan.traces[t].name)
            let w = Self.attribute("width", of: chart), h = Self.attribute("height", of: chart)
            // Nested <svg> elements keep each chart's own coordinates.
            body += "<g class=\"trace\" data-trace=\"\(SweepPlot.xml(plan.traces[t].name))\">"
                + chart.replacingOccurrences(of: "<svg xmlns=\"http://www.w3.org/2000/svg\" ", with: "<svg y=\"\(y)\" ")
                + "</g>\n"
            y += h
            width = max(width, w)
        }
        return "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(width)\" height=\"\(y)\" viewBox=\"0 0 \(width) \(y)\">\n"
            + body + "</svg>\n"
    }

    /// An integer attribute of the first element of `svg`.
    static func attribute(_ name: String, of svg: String) -> Int {
        guard let r = svg.range(of: " \(name)=\"") else { return 0 }
        return Int(svg[r.upperBound...].prefix { $0.isNumber }) ?? 0
    }
}

// MARK: - partial results of a sharded sweep

extension SweepPlan {
    /// The partial result of `shard`: its rows as JSON lines, behind the header.
    public func renderPart(shard: ShardSpec, rows: [CorpusRow]) -> String {
        let traceList = traces.map {
            "{\"name\": \"\(jsonEscaped($0.name))\", \"crc32\": \($0.checksum.crc32), \"bytes\": \($0.checksum.bytes)}"
        }.joined(separator: ", ")
        let settingList = settings.map {
            "{\"name\": \"\(jsonEscaped($0.name))\", \"values\": [\($0.values.map(String.init).joined(separator: ", "))]}"
        }.joined(separator: ", ")
        var out = PartialResult.header(command: "sweep", study: studyID, shard: shard, items: itemCount, fields: [
            "\"layout\": \"\(layout.rawValue)\"", "\"format\": \"\(format.rawValue)\"",
            "\"replay_options\": \"\(jsonEscaped(replayOptions))\"",
            "\"traces\": [\(traceList)]", "\"settings\": [\(settingList)]",
        ])
        for row in rows {
            let body = row.failure.map { "\"status\": \"failed\", \"error\": \"\(jsonEscaped($0))\"" }
                ?? "\"status\": \"ok\", \"report\": \(row.report?.renderJSON(pretty: false) ?? "{}")"
            out += PartialResult.itemLine(row.item, id: describe(item: row.item), body: body)
        }
        return out + PartialResult.end(count: rows.count)
    }

    /// The plan a part's header describes (trace paths are not kept: only names and checksums).
    public init(partHeader h: OrderedJSON, file: String) throws {
        func bad(_ why: String) -> TraceError { TraceError(.dataError, file: file, at: .line(1), why) }
        guard let layout = h["layout"]?.string.flatMap(SweepLayout.init(rawValue:)),
              let format = h["format"]?.string.flatMap(ReportFormat.init(rawValue:)),
              let traceList = h["traces"]?.array, let settingList = h["settings"]?.array,
              let replayOptions = h["replay_options"]?.string
        else { throw bad("not a sweep's partial result (layout, format, replay_options, traces, settings)") }
        let traces = try traceList.map { t -> CorpusTrace in
            guard let name = t["name"]?.string, let crc = t["crc32"]?.int, let bytes = t["bytes"]?.int,
                  let crc32 = UInt32(exactly: crc), bytes >= 0
            else { throw bad("a trace without name, crc32 or bytes") }
            return CorpusTrace(path: name, name: name, checksum: TraceChecksum(crc32: crc32, bytes: UInt64(bytes)))
        }
        let settings = try settingList.map { s -> Setting in
            guard let name = s["name"]?.string, let values = s["values"]?.array?.compactMap(\.int) else {
                throw bad("a setting without name or values")
            }
            return Setting(name: name, values: values)
        }
        self.init(traces: traces, settings: settings, layout: layout, format: format, replayOptions: replayOptions)
        guard studyID == h["study"]?.string else { throw bad("the study does not match its traces and settings") }
    }

    /// A row from its line, checked against the work list.
    public func row(fromPart line: OrderedJSON, item: Int, file: String) throws -> CorpusRow {
        guard line["id"]?.string == describe(item: item) else {
            throw TraceError(.dataError, file: file, "item \(item) is '\(line["id"]?.string ?? "?")', the work list says '\(describe(item: item))'")
        }
        if line["status"]?.string == "failed" {
            return CorpusRow(item: item, report: nil, failure: line["error"]?.string ?? "failed")
        }
        guard let json = line["report"], let report = Report(json: json) else {
            throw TraceError(.dataError, file: file, "item \(item) has no report")
        }
        return CorpusRow(item: item, report: report, failure: nil)
    }
}
