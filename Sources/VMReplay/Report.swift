import Foundation
import VMTrace

// A replay's report: flat, dotted keys in a fixed order (SPEC §3), and its four renderings.

/// One value of a report.
public enum ReportValue: Equatable, Sendable, CustomStringConvertible {
    case int(Int64)
    case real(Double)

    public var description: String {
        switch self {
        case .int(let v): return String(v)
        case .real(let v): return formatReal(v)
        }
    }

    public var asInt: Int64? {
        if case .int(let v) = self { return v }
        return nil
    }

    public var asDouble: Double {
        switch self {
        case .int(let v): return Double(v)
        case .real(let v): return v
        }
    }
}

func formatReal(_ v: Double) -> String {
    guard v.isFinite else { return "0" }
    let scaled = (v * 1000).rounded() / 1000
    if scaled == scaled.rounded() && abs(scaled) < 1e15 { return String(Int64(scaled)) + ".0" }
    return String(scaled)
}

/// An ordered list of report keys and values.
public struct Report: Equatable, Sendable {
    public private(set) var entries: [(key: String, value: ReportValue)] = []
    private var index: [String: Int] = [:]
    /// Command names by pid, printed as `proc.PID.comm` after the process's other keys (text,
    /// sysctl, JSON; not CSV) and never compared by `check` (a name is not a count).
    public var processNames: [UInt32: String] = [:]
    /// The first SIGSEGVs and their events (text report and JSON header only).
    public var sigsegvSamples: [SigsegvSample] = []

    public init() {}

    public static func == (a: Report, b: Report) -> Bool {
        a.entries.elementsEqual(b.entries) { $0.key == $1.key && $0.value == $1.value }
    }

    public mutating func set(_ key: String, _ value: ReportValue) {
        if let i = index[key] {
            entries[i].value = value
        } else {
            index[key] = entries.count
            entries.append((key, value))
        }
    }

    public mutating func set(_ key: String, _ value: UInt64) { set(key, .int(Int64(clamping: value))) }
    public mutating func set(_ key: String, _ value: Int) { set(key, .int(Int64(value))) }
    public mutating func set(_ key: String, _ value: Int64) { set(key, .int(value)) }

    public subscript(key: String) -> ReportValue? {
        index[key].map { entries[$0].value }
    }

    public var keys: [String] { entries.map(\.key) }

    /// Keys that hold wall-clock figures: reported, never compared by `check` (SPEC §3).
    public static func isWallClock(_ key: String) -> Bool {
        key.hasPrefix("replay.") && (key.hasSuffix("_seconds") || key.hasSuffix("_per_second"))
    }
}

/// How a report is printed.
public enum ReportFormat: String, CaseIterable, Sendable {
    case text, sysctl, json, csv
}

extension Report {
    /// `name: value` lines, like `sysctl -a`.
    public func renderSysctl() -> String {
        withNames(entries.map { ($0.key, $0.value.description) }).map { "\($0.0): \($0.1)" }.joined(separator: "\n") + "\n"
    }

    /// One JSON object with the keys in report order.
    public func renderJSON(pretty: Bool = true) -> String {
        let sep = pretty ? ",\n  " : ","
        let body = withNames(entries.map { ($0.key, $0.value.description) }, quote: jsonStringLiteral)
            .map { "\"\(jsonEscaped($0.0))\": \($0.1)" }.joined(separator: sep)
        return pretty ? "{\n  \(body)\n}\n" : "{\(body)}"
    }

    /// A header line and one row.
    public func renderCSV() -> String {
        Report.renderCSV([self])
    }

    /// A header line (the union of keys, in first-seen order) and one row per report.
    public static func renderCSV(_ reports: [Report]) -> String {
        var keys: [String] = []
        var seen = Set<String>()
        for r in reports {
            for k in r.keys where seen.insert(k).inserted { keys.append(k) }
        }
        var out = keys.map(csvField).joined(separator: ",") + "\n"
        for r in reports {
            out += keys.map { r[$0]?.description ?? "" }.joined(separator: ",") + "\n"
        }
        return out
    }

    /// A few lines for people, before the full listing: what the kernel did, in words.
    func summaryLines() -> [String] {
        func v(_ k: String) -> Int64 { self[k]?.asInt ?? 0 }
        guard self["trap.page_faults"] != nil else { return [] }
        let g = { (k: String) in Report.grouped(.int(v(k))) }
        func counted(_ n: Int64, _ one: String, _ many: String) -> String {
            "\(Report.grouped(.int(n))) \(n == 1 ? one : many)"
        }
        let processes = Int64(keys.filter { $0.hasPrefix("proc.") && $0.hasSuffix(".ru_minflt") }.count)
        var lines = [
            "\(counted(v("replay.accesses"), "access", "accesses")) by \(counted(processes, "process", "processes")) "
                + "raised \(counted(v("trap.page_faults"), "page fault", "page faults")) (\(g("trap.sigsegv")) SIGSEGV)",
            "vm_fault: \(g("vm.stats.vm.v_vm_faults")) v_vm_faults, \(g("vm.stats.vm.v_zfod")) zero-fill, "
                + "\(g("vm.stats.vm.v_cow_faults")) copy-on-write, \(g("rusage.ru_majflt")) major (ru_majflt), "
                + "\(g("rusage.ru_minflt")) ru_minflt",
        ]
        let pages = v("prefault.pages")
        let ratio = pages > 0 ? String(format: "%.1f%%", 100 * Double(v("prefault.hits")) / Double(pages)) : "-"
        lines.append("prefault: \(g("prefault.pages")) pages entered, \(g("prefault.hits")) used (\(ratio)), "
            + "\(g("prefault.unused")) never used")
        if v("vm.stats.vm.v_pdwakeups") > 0 || v("vm.stats.vm.v_swapout") > 0 {
            lines.append("paging: \(g("vm.stats.vm.v_pdwakeups")) pagedaemon wakeups, \(g("vm.stats.vm.v_swapout")) swap-outs, "
                + "\(g("vm.stats.vm.v_swapin")) swap-ins, \(g("mem.oom_kills")) OOM kills")
        }
        return lines
    }

    /// Grouped, aligned text for people: a summary, then one block per key prefix.
    public func renderText() -> String {
        var out = ""
        let summary = summaryLines()
        if !summary.isEmpty {
            out += "[summary]\n" + summary.map { "  " + $0 + "\n" }.joined() + "\n"
        }
        let segv = sigsegvLines()
        if !segv.isEmpty { out += segv.map { $0 + "\n" }.joined() + "\n" }
        var group = ""
        let width = min(entries.map(\.key.count).max() ?? 0, 48)
        for (key, value) in withNames(entries.map { ($0.key, Report.grouped($0.value)) }) {
            let g = Report.group(of: key)
            if g != group {
                if !group.isEmpty { out += "\n" }
                out += "[\(g)]\n"
                group = g
            }
            let pad = String(repeating: " ", count: max(width - key.count, 0))
            out += "  \(key)\(pad)  \(value)\n"
        }
        return out
    }

    public func render(_ format: ReportFormat) -> String {
        switch format {
        case .text: return renderText()
        case .sysctl: return renderSysctl()
        case .json: return renderJSON()
        case .csv: return renderCSV()
        }
    }

    static func group(of key: String) -> String {
        if key.hasPrefix("vm.stats.") { return "kernel counters (vm.stats)" }
        if key.hasPrefix("proc.") { return "per process" }
        let first = key.split(separator: ".").first.map(String.init) ?? key
        switch first {
        case "vm", "kern", "machdep", "vfs", "vmreplay": return "tunables"
        case "rusage": return "rusage"
        case "trap": return "traps"
        case "prefault": return "prefault"
        case "mmu": return "mmu"
        case "mem": return "memory"
        case "vmobject": return "vm objects"
        default: return first
        }
    }

    /// Thousands separators for integers (text format only).
    static func grouped(_ v: ReportValue) -> String {
        guard case .int(let n) = v else { return v.description }
        let digits = String(n.magnitude)
        var out = ""
        for (i, c) in digits.enumerated() {
            if i > 0 && (digits.count - i) % 3 == 0 { out.append(",") }
            out.append(c)
        }
        return n < 0 ? "-" + out : out
    }
}


func csvField(_ s: String) -> String {
    guard s.contains(",") || s.contains("\"") else { return s }
    var out = "\""
    for c in s { out += c == "\"" ? "\"\"" : String(c) }
    return out + "\""
}
