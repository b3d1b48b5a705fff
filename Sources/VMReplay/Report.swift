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
        entries.map { "\($0.key): \($0.value)" }.joined(separator: "\n") + "\n"
    }

    /// One JSON object with the keys in report order.
    public func renderJSON(pretty: Bool = true) -> String {
        let sep = pretty ? ",\n  " : ","
        let body = entries.map { "\"\(jsonEscape($0.key))\": \($0.value)" }.joined(separator: sep)
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

    /// Grouped, aligned text for people: one block per key prefix.
    public func renderText() -> String {
        var out = ""
        var group = ""
        let width = min(entries.map(\.key.count).max() ?? 0, 48)
        for (key, value) in entries {
            let g = Report.group(of: key)
            if g != group {
                if !out.isEmpty { out += "\n" }
                out += "[\(g)]\n"
                group = g
            }
            let pad = String(repeating: " ", count: max(width - key.count, 0))
            out += "  \(key)\(pad)  \(Report.grouped(value))\n"
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

func jsonEscape(_ s: String) -> String {
    var out = ""
    for u in s.unicodeScalars {
        switch u {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        case "\t": out += "\\t"
        default:
            if u.value < 0x20 {
                out += "\\u" + String(repeating: "0", count: 4 - String(u.value, radix: 16).count)
                    + String(u.value, radix: 16)
            } else {
                out.unicodeScalars.append(u)
            }
        }
    }
    return out
}

func csvField(_ s: String) -> String {
    guard s.contains(",") || s.contains("\"") else { return s }
    var out = "\""
    for c in s { out += c == "\"" ? "\"\"" : String(c) }
    return out + "\""
}
