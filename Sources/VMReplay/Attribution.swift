// `replay --by mapping|process|object`: the counters charged to the mappings the trace
// created. A mapping's identity is the mmap event that created it, whatever the kernel later
// does to its entries (clipped by mprotect or a partial munmap, merged with a neighbour, copied
// into a child at fork): the ledger keeps its own map of which address ranges each mmap event
// still covers, per process, from the trace's own events, so the engine needs no identity field.
import Foundation
import VMTrace

/// A mapping as the trace created it.
public struct MappingIdentity: Equatable, Sendable {
    public var pid: UInt32
    /// The number of the mmap event (1-based, over all events) that created it; 0 for the
    /// rows that are not mappings: addresses no mmap covered, and the kernel's own work.
    public var event: UInt64
    /// The range the mmap event mapped.
    public var start: UInt64
    public var end: UInt64
    public var protection: String
    public var shared: Bool
    public var stack: Bool
    /// The file id, for file mappings.
    public var fileID: UInt32?
    /// The file's path, or "anon", or what the row stands for when it is not a mapping.
    public var object: String
    /// When this is the copy fork made in a child: the parent's pid.
    public var forkOf: UInt32?

    /// A stable name: `pid:#event`, plus `<parent` for a fork copy.
    public var id: String {
        if event == 0 { return "\(pid):\(object)" }
        return "\(pid):#\(event)" + (forkOf.map { "<\($0)" } ?? "")
    }
}

/// The ledger of mappings and their counters, kept as the replay goes.
final class MappingLedger {
    private(set) var identities: [MappingIdentity] = []
    private(set) var tallies: [FaultTally] = []
    private struct RowKey: Hashable { var pid: UInt32; var event: UInt64; var forkOf: UInt32?; var object: String }
    private var rowIndex: [RowKey: Int] = [:]
    /// Per process: the ranges still mapped, sorted by start, each with its row.
    private struct Segment { var start: UInt64; var end: UInt64; var row: Int }
    private var segments: [UInt32: [Segment]] = [:]
    private var filePaths: [UInt32: String] = [:]

    /// Adds `tally` to the row of the mapping that covers `va` in `pid` (or to the pid's
    /// "(no mapping)" row).
    func charge(_ tally: FaultTally, pid: UInt32, va: UInt64?) {
        let row = va.flatMap { segment(pid, $0)?.row } ?? unmappedRow(pid)
        tallies[row] += tally
    }

    /// Adds `tally` to the row for what the kernel did on nobody's behalf.
    func chargeKernel(_ tally: FaultTally) {
        tallies[row(MappingIdentity(pid: 0, event: 0, start: 0, end: 0, protection: "", shared: false,
                                    stack: false, fileID: nil, object: "(kernel)", forkOf: nil))] += tally
    }

    private func unmappedRow(_ pid: UInt32) -> Int {
        row(MappingIdentity(pid: pid, event: 0, start: 0, end: 0, protection: "", shared: false, stack: false,
                            fileID: nil, object: "(no mapping)", forkOf: nil))
    }

    private func row(_ identity: MappingIdentity) -> Int {
        let key = RowKey(pid: identity.pid, event: identity.event, forkOf: identity.forkOf, object: identity.object)
        if let i = rowIndex[key] { return i }
        identities.append(identity)
        tallies.append(FaultTally())
        rowIndex[key] = identities.count - 1
        return identities.count - 1
    }

    private var lastLookup: (pid: UInt32, index: Int)?

    private func segment(_ pid: UInt32, _ va: UInt64) -> Segment? {
        guard let list = segments[pid], !list.isEmpty else { return nil }
        if let last = lastLookup, last.pid == pid, last.index < list.count,
           list[last.index].start <= va && va < list[last.index].end
        {
            return list[last.index]
        }
        // The last segment starting at or below va.
        var lo = 0, hi = list.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if list[mid].start <= va { lo = mid + 1 } else { hi = mid }
        }
        guard lo > 0, va < list[lo - 1].end else { return nil }
        lastLookup = (pid, lo - 1)
        return list[lo - 1]
    }

    /// Removes [start, end) from `pid`'s ranges, clipping the segments it cuts.
    private func remove(_ pid: UInt32, _ start: UInt64, _ end: UInt64) {
        guard let list = segments[pid] else { return }
        var out: [Segment] = []
        out.reserveCapacity(list.count + 1)
        for s in list {
            if s.end <= start || s.start >= end {
                out.append(s)
                continue
            }
            if s.start < start { out.append(Segment(start: s.start, end: start, row: s.row)) }
            if s.end > end { out.append(Segment(start: end, end: s.end, row: s.row)) }
        }
        segments[pid] = out
        lastLookup = nil
    }

    /// Follows an event the kernel applied without error.
    func apply(_ event: TraceEvent, number: UInt64) {
        switch event {
        case .file(let id, _, _, let path):
            filePaths[id] = path.string.isEmpty ? "file \(id)" : path.string
        case .proc(let pid, _):
            segments[pid] = []
        case .exec(let pid):
            segments[pid] = []
            lastLookup = nil
        case .exit(let pid):
            segments[pid] = nil
            lastLookup = nil
        case .fork(let parent, let child):
            segments[child] = (segments[parent] ?? []).map { s in
                var copy = identities[s.row]
                copy.pid = child
                copy.forkOf = parent
                return Segment(start: s.start, end: s.end, row: row(copy))
            }
        case .munmap(let pid, let address, let length):
            remove(pid, address, address &+ length)
        case .mmap(let m):
            let end = m.address &+ m.length
            remove(m.pid, m.address, end)
            let object = m.fileID.map { filePaths[$0] ?? "file \($0)" } ?? "anon"
            let r = row(MappingIdentity(pid: m.pid, event: number, start: m.address, end: end,
                                        protection: m.protection.description, shared: m.flags.contains(.shared),
                                        stack: m.flags.contains(.stack), fileID: m.fileID, object: object, forkOf: nil))
            var list = segments[m.pid] ?? []
            let at = list.firstIndex { $0.start >= end } ?? list.count
            list.insert(Segment(start: m.address, end: end, row: r), at: at)
            segments[m.pid] = list
        default:
            break
        }
    }
}

/// How `--by` groups the counters.
public enum AttributionGrouping: String, CaseIterable, Sendable {
    case mapping, process, object
}

/// One row of an attribution table.
public struct AttributionRow: Sendable {
    /// Stable across runs of the same trace (the diff matches rows by it).
    public var id: String
    /// The columns that say what the row is, in order (name, value).
    public var identity: [(name: String, value: String)]
    public var tally: FaultTally
}

/// The table `--by` prints: rows sorted by traps (then by creation), each column summing to
/// the report's total.
public struct AttributionTable: Sendable {
    public var grouping: AttributionGrouping
    public var identityColumns: [String]
    public var rows: [AttributionRow]

    init(grouping: AttributionGrouping, ledger: MappingLedger) {
        self.grouping = grouping
        var rows: [AttributionRow] = []
        switch grouping {
        case .mapping:
            identityColumns = ["pid", "event", "start", "end", "prot", "object", "flags", "fork_of"]
            for (identity, tally) in zip(ledger.identities, ledger.tallies) {
                let isMapping = identity.event != 0
                var flags = isMapping ? [identity.shared ? "shared" : "private"] : []
                if identity.stack { flags.append("stack") }
                rows.append(AttributionRow(id: identity.id, identity: [
                    ("pid", String(identity.pid)),
                    ("event", isMapping ? String(identity.event) : ""),
                    ("start", isMapping ? hex(identity.start) : ""),
                    ("end", isMapping ? hex(identity.end) : ""),
                    ("prot", identity.protection),
                    ("object", identity.object),
                    ("flags", flags.joined(separator: "+")),
                    ("fork_of", identity.forkOf.map(String.init) ?? ""),
                ], tally: tally))
            }
        case .process:
            identityColumns = ["pid", "mappings"]
            var order: [UInt32] = []
            var sums: [UInt32: (count: Int, tally: FaultTally)] = [:]
            for (identity, tally) in zip(ledger.identities, ledger.tallies) {
                if sums[identity.pid] == nil { order.append(identity.pid) }
                sums[identity.pid, default: (0, FaultTally())].tally += tally
                if identity.event != 0 { sums[identity.pid]!.count += 1 }
            }
            for pid in order {
                let s = sums[pid] ?? (0, FaultTally())
                rows.append(AttributionRow(id: pid == 0 ? "(kernel)" : String(pid),
                                           identity: [("pid", pid == 0 ? "(kernel)" : String(pid)), ("mappings", String(s.count))],
                                           tally: s.tally))
            }
        case .object:
            // A file's pages, or the anonymous memory one mmap created (fork copies share it).
            identityColumns = ["object", "mappings"]
            var order: [String] = []
            var sums: [String: (count: Int, tally: FaultTally)] = [:]
            for (identity, tally) in zip(ledger.identities, ledger.tallies) {
                let name = identity.event != 0 && identity.fileID == nil ? "anon #\(identity.event)" : identity.object
                if sums[name] == nil { order.append(name) }
                sums[name, default: (0, FaultTally())].tally += tally
                if identity.event != 0 { sums[name]!.count += 1 }
            }
            for name in order {
                let s = sums[name] ?? (0, FaultTally())
                rows.append(AttributionRow(id: name, identity: [("object", name), ("mappings", String(s.count))], tally: s.tally))
            }
        }
        // Most traps first; ties keep creation order (the sort is stable).
        let indexed = rows.enumerated().sorted { a, b in
            let (x, y) = (a.element.tally[.traps], b.element.tally[.traps])
            if x != y { return x > y }
            let (u, v) = (a.element.tally[.vmFaults], b.element.tally[.vmFaults])
            if u != v { return u > v }
            return a.offset < b.offset
        }
        // Mappings nothing was charged to (never touched, say) are left out.
        self.rows = indexed.map(\.element).filter { !$0.tally.isZero }
    }

    /// The column sums (equal to the report's totals).
    public var totals: FaultTally {
        var t = FaultTally()
        for r in rows { t += r.tally }
        return t
    }

    /// The first `top` rows, the rest folded into one "(N others)" row so that sums still hold.
    public func limited(to top: Int?) -> AttributionTable {
        guard let top, top >= 0, rows.count > top else { return self }
        var t = self
        var rest = FaultTally()
        for r in rows[top...] { rest += r.tally }
        let n = rows.count - top
        t.rows = Array(rows[..<top])
        var identity = identityColumns.map { (name: $0, value: "") }
        // The label goes where the names are (the object column), not into the narrow pid one.
        identity[identityColumns.firstIndex(of: "object") ?? 0].value = "(\(n) others)"
        t.rows.append(AttributionRow(id: "(others)", identity: identity, tally: rest))
        return t
    }

    /// An aligned table for people, under a `[by mapping]` heading.
    public func renderText() -> String {
        var table: [[String]] = [identityColumns + FaultTally.Column.allCases.map(\.header)]
        for r in rows {
            table.append(r.identity.map(\.value) + FaultTally.Column.allCases.map { Report.grouped(.int(Int64(clamping: r.tally[$0]))) })
        }
        var totalRow = identityColumns.map { _ in "" }
        totalRow[0] = "total"
        table.append(totalRow + FaultTally.Column.allCases.map { Report.grouped(.int(Int64(clamping: totals[$0]))) })
        let note: String
        switch grouping {
        case .mapping: note = "event: the mmap event (1-based) that created the mapping; fork_of: a fork's copy, made in this pid from that parent"
        case .process: note = "mappings: how many the process had over the replay"
        case .object: note = "anon #N: the anonymous memory mmap event N created, with the copies forks made of it"
        }
        let lines = alignLeftTable(table, leftColumns: identityColumns.count)
        return "[by \(grouping.rawValue)]\n  (\(note))\n" + lines.map { "  " + $0 + "\n" }.joined()
    }

    /// A header and one row per table row: the identity columns, then the report keys.
    public func renderCSV() -> String {
        var out = (identityColumns + FaultTally.Column.allCases.map(\.key)).map(csvField).joined(separator: ",") + "\n"
        for r in rows {
            out += (r.identity.map { csvField($0.value) } + FaultTally.Column.allCases.map { String(r.tally[$0]) })
                .joined(separator: ",") + "\n"
        }
        return out
    }

    /// `{"by": ..., "rows": [{"id": ..., identity..., report keys...}]}`.
    public func renderJSON() -> String {
        let rowTexts = rows.map { r -> String in
            var fields = ["\"id\": \"\(jsonEscaped(r.id))\""]
            fields += r.identity.map { "\"\(jsonEscaped($0.name))\": \"\(jsonEscaped($0.value))\"" }
            fields += FaultTally.Column.allCases.map { "\"\($0.key)\": \(r.tally[$0])" }
            return "{" + fields.joined(separator: ", ") + "}"
        }
        return "{\"by\": \"\(grouping.rawValue)\", \"rows\": [\n    " + rowTexts.joined(separator: ",\n    ") + "\n  ]}"
    }
}

private func hex(_ v: UInt64) -> String { "0x" + String(v, radix: 16) }

/// Aligns a table: the first `leftColumns` columns left-aligned, the rest right-aligned.
func alignLeftTable(_ rows: [[String]], leftColumns: Int) -> [String] {
    let columns = rows.map(\.count).max() ?? 0
    var widths = Array(repeating: 0, count: columns)
    for r in rows { for (i, c) in r.enumerated() { widths[i] = max(widths[i], c.count) } }
    return rows.map { r in
        r.enumerated().map { i, c in
            let pad = String(repeating: " ", count: widths[i] - c.count)
            return i < leftColumns ? c + pad : pad + c
        }.joined(separator: "  ")
    }
}

extension Report {
    /// The report followed by an attribution table: text and sysctl append it, JSON carries it
    /// under "attribution", CSV is the table alone (one row per mapping, process or object).
    public func render(_ format: ReportFormat, with table: AttributionTable) -> String {
        switch format {
        case .text:
            return renderText() + "\n" + table.renderText()
        case .csv:
            return table.renderCSV()
        case .sysctl:
            var out = renderSysctl()
            for r in table.rows {
                for c in FaultTally.Column.allCases {
                    out += "by_\(table.grouping.rawValue).\(r.id).\(c.key): \(r.tally[c])\n"
                }
            }
            return out
        case .json:
            let object = renderJSON()
            guard let close = object.lastIndex(of: "}") else { return object }
            let body = object[..<close].trimmingCharacters(in: .whitespacesAndNewlines)
            return body + ",\n  \"attribution\": " + table.renderJSON() + "\n}\n"
        }
    }
}
