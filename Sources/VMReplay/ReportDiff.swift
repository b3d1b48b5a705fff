// `vmreplay diff A.json B.json` and `check`'s differences: the keys that changed, absolute and
// relative, grouped as the text report groups them; for `--by` reports, the rows that moved most.
import Foundation
import VMTrace

/// One side of a diff: a report's numeric keys in order, and its attribution rows if it has them.
public struct DiffSide: Sendable {
    public var name: String
    public var values: [(key: String, value: ReportValue)]
    public var rows: [(id: String, label: String, tally: FaultTally)]?

    public init(name: String, values: [(key: String, value: ReportValue)], rows: [(id: String, label: String, tally: FaultTally)]? = nil) {
        self.name = name
        self.values = values
        self.rows = rows
    }

    public init(name: String, report: Report) {
        self.init(name: name, values: report.entries.map { ($0.key, $0.value) })
    }

    /// Reads `path`: a report (`replay --format json`, with or without `--by`), a golden
    /// (`check --update`), or a row of a sweep (`sweep --format json`): `sweep.json#N` is the
    /// N-th row (1-based); a sweep of one row needs no `#N`. Errors are TraceErrors (65 bad
    /// JSON or shape, 66 missing file).
    public static func load(_ argument: String) throws -> DiffSide {
        var path = argument
        var row: Int?
        if !FileManager.default.fileExists(atPath: argument), let hash = argument.lastIndex(of: "#"),
           let n = Int(argument[argument.index(after: hash)...])
        {
            path = String(argument[..<hash])
            row = n
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw TraceError(.noInput, file: path, "cannot read the file")
        }
        let json: OrderedJSON
        do { json = try OrderedJSON(parsing: String(decoding: data, as: UTF8.self)) } catch {
            throw TraceError(.dataError, file: path, "not JSON: \(error.description)")
        }
        func bad(_ why: String) -> TraceError { TraceError(.dataError, file: path, why) }
        var object = json
        if case .array(let items) = json {
            guard let n = row ?? (items.count == 1 ? 1 : nil) else {
                throw bad("a sweep of \(items.count) rows: name one as \(path)#N (1 to \(items.count))")
            }
            guard n >= 1 && n <= items.count else { throw bad("row \(n): the sweep has rows 1 to \(items.count)") }
            object = items[n - 1]
        } else if row != nil {
            throw bad("#\(row!) names a sweep row, but this is not a sweep")
        }
        // A sweep row and a golden keep the report under "report".
        let report = object["report"] ?? object
        guard case .object(let members) = report else { throw bad("not a vmreplay report, golden or sweep") }
        let values = members.compactMap { m in m.value.reportValue.map { (key: m.key, value: $0) } }
        guard !values.isEmpty else { throw bad("no report keys") }
        var rows: [(id: String, label: String, tally: FaultTally)]?
        if case .array(let items)? = object["attribution"]?["rows"] {
            rows = items.compactMap { item in
                guard let id = item["id"]?.string else { return nil }
                var t = FaultTally()
                for c in FaultTally.Column.allCases { t[c] = UInt64(clamping: item[c.key]?.reportValue?.asInt ?? 0) }
                return (id, item["object"]?.string ?? item["pid"]?.string ?? "", t)
            }
        }
        return DiffSide(name: argument, values: values, rows: rows)
    }
}

/// What changed from side A to side B.
public struct ReportDiff: Sendable {
    public struct Change: Sendable, Equatable {
        public var key: String
        public var a: ReportValue?
        public var b: ReportValue?

        public init(key: String, a: ReportValue?, b: ReportValue?) {
            self.key = key
            self.a = a
            self.b = b
        }
    }

    /// A row of a `--by` table whose counters changed.
    public struct RowMove: Sendable {
        public var id: String
        public var label: String
        public var a: FaultTally
        public var b: FaultTally
    }

    public var changes: [Change]
    public var comparedKeys: Int
    public var movedRows: [RowMove]

    public var isEmpty: Bool { changes.isEmpty && movedRows.isEmpty }

    /// Compares every key but the wall-clock ones, in A's order, then B's new keys.
    public init(_ a: DiffSide, _ b: DiffSide) {
        let bValues = Dictionary(b.values.map { ($0.key, $0.value) }, uniquingKeysWith: { x, _ in x })
        let aKeys = Set(a.values.map(\.key))
        var changes: [Change] = []
        var compared = 0
        for (key, value) in a.values where !Report.isWallClock(key) {
            compared += 1
            if bValues[key] != value { changes.append(Change(key: key, a: value, b: bValues[key])) }
        }
        for (key, value) in b.values where !Report.isWallClock(key) && !aKeys.contains(key) {
            compared += 1
            changes.append(Change(key: key, a: nil, b: value))
        }
        self.changes = changes
        comparedKeys = compared
        var moves: [RowMove] = []
        if let ar = a.rows, let br = b.rows {
            let bRows = Dictionary(br.map { ($0.id, $0) }, uniquingKeysWith: { x, _ in x })
            let aIDs = Set(ar.map(\.id))
            for r in ar {
                let other = bRows[r.id]?.tally ?? FaultTally()
                if other != r.tally { moves.append(RowMove(id: r.id, label: r.label, a: r.tally, b: other)) }
            }
            for r in br where !aIDs.contains(r.id) && !r.tally.isZero {
                moves.append(RowMove(id: r.id, label: r.label, a: FaultTally(), b: r.tally))
            }
            // The "(N others)" rows of --top tables hold different rows on each side.
            moves.removeAll { $0.id == "(others)" }
            func size(_ m: RowMove, _ c: FaultTally.Column) -> UInt64 { max(m.a[c], m.b[c]) - min(m.a[c], m.b[c]) }
            moves = moves.enumerated().sorted { x, y in
                for c in [FaultTally.Column.traps, .vmFaults, .prefaultUnused] where size(x.element, c) != size(y.element, c) {
                    return size(x.element, c) > size(y.element, c)
                }
                return x.offset < y.offset
            }.map(\.element)
        }
        movedRows = moves
    }

    /// The changed keys from a golden check's differences (golden = A, replay = B).
    public init(changes: [Change], comparedKeys: Int) {
        self.changes = changes
        self.comparedKeys = comparedKeys
        movedRows = []
    }

    /// One table: a heading per report group (as the text report has them), each changed key
    /// with A, B, B - A and the relative change; then the rows that moved most.
    public func render(labels: (String, String) = ("A", "B"), topRows: Int = 10) -> String {
        guard !isEmpty else { return "" }
        var out = ""
        if !changes.isEmpty {
            var table: [[String]] = [["key", labels.0, labels.1, "delta", "relative"]]
            var headings: [Int: String] = [:]
            var group = ""
            for c in changes {
                let g = Report.group(of: c.key)
                if g != group {
                    headings[table.count] = "[\(g)]"
                    group = g
                }
                table.append([c.key, c.a.map { Report.grouped($0) } ?? "(missing)", c.b.map { Report.grouped($0) } ?? "(missing)",
                              ReportDiff.delta(c.a, c.b), ReportDiff.relative(c.a, c.b)])
            }
            let lines = alignLeftTable(table, leftColumns: 1)
            for (i, line) in lines.enumerated() {
                if let h = headings[i] { out += h + "\n" }
                out += "  " + line + "\n"
            }
        }
        if !movedRows.isEmpty {
            if !out.isEmpty { out += "\n" }
            let shown = movedRows.prefix(topRows)
            out += "[rows that moved most]  (\(shown.count) of \(movedRows.count) changed rows, by traps, then v_vm_faults, then pf.unused)\n"
            // Traps always; the other counters when one of the shown rows changed them.
            let columns = FaultTally.Column.allCases.filter { c in c == .traps || shown.contains { $0.a[c] != $0.b[c] } }
            var table: [[String]] = [["id", "object"] + columns.flatMap { ["\($0.header) \(labels.0)", labels.1, "delta"] }]
            for m in shown {
                var cells = [m.id, m.label]
                for c in columns {
                    cells += [Report.grouped(.int(Int64(clamping: m.a[c]))), Report.grouped(.int(Int64(clamping: m.b[c]))),
                              ReportDiff.delta(.int(Int64(clamping: m.a[c])), .int(Int64(clamping: m.b[c])))]
                }
                table.append(cells)
            }
            out += alignLeftTable(table, leftColumns: 2).map { "  " + $0 + "\n" }.joined()
        }
        return out
    }

    static func delta(_ a: ReportValue?, _ b: ReportValue?) -> String {
        guard let a, let b else { return "-" }
        if case .int(let x) = a, case .int(let y) = b {
            let (d, overflow) = y.subtractingReportingOverflow(x)
            if overflow { return "-" }
            return d == 0 ? "0" : (d > 0 ? "+" : "-") + Report.grouped(.int(Int64(d.magnitude)))
        }
        let d = b.asDouble - a.asDouble
        return (d >= 0 ? "+" : "") + formatReal(d)
    }

    static func relative(_ a: ReportValue?, _ b: ReportValue?) -> String {
        guard let a, let b else { return "-" }
        let x = a.asDouble, y = b.asDouble
        guard x != 0 else { return y == 0 ? "0%" : "new" }
        return String(format: "%+.1f%%", 100 * (y - x) / abs(x))
    }
}
