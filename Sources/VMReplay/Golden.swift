// Golden reports for `check`: what a replay of a given trace with given settings must report.
// A golden records the trace's checksum and the settings it was made with, so checking it
// against another trace, or with other settings, says so.
import Foundation
import VMKernel
import VMTrace

public struct Golden: Sendable {
    /// The golden file format's version.
    public static let formatVersion = 1

    public var traceName: String
    public var checksum: TraceChecksum
    /// The `-s` assignments the golden was made with (defaults otherwise).
    public var settings: [(name: String, value: Int64)]
    public var physicalMemory: UInt64
    public var swap: UInt64
    /// Every deterministic report key and its value, in report order.
    public var values: [(key: String, value: Int64)]
    /// Command names by pid (`proc.PID.comm`), to match processes of a re-recorded program.
    public var processNames: [UInt32: String] = [:]

    public init(traceName: String, checksum: TraceChecksum, settings: [(name: String, value: Int64)],
                configuration: ReplayConfiguration, report: Report)
    {
        self.traceName = traceName
        self.checksum = checksum
        self.settings = settings
        physicalMemory = configuration.physicalMemory
        swap = configuration.swap
        values = report.entries.compactMap { e in
            guard !Report.isWallClock(e.key), let v = e.value.asInt else { return nil }
            return (e.key, v)
        }
        processNames = report.processNames
    }

    /// The golden as pretty JSON, keys in report order (stable diffs in version control).
    public func renderJSON() -> String {
        var out = "{\n"
        out += "  \"vmreplay_golden\": \(Golden.formatVersion),\n"
        out += "  \"trace\": {\"name\": \"\(jsonEscaped(traceName))\", \"crc32\": \(checksum.crc32), \"bytes\": \(checksum.bytes)},\n"
        let s = settings.map { "\"\(jsonEscaped($0.name))\": \($0.value)" }.joined(separator: ", ")
        out += "  \"settings\": {\(s)},\n"
        out += "  \"phys_mem\": \(physicalMemory),\n"
        out += "  \"swap\": \(swap),\n"
        if !processNames.isEmpty {
            let names = processNames.sorted { $0.key < $1.key }.map { "\"\($0.key)\": \(jsonStringLiteral($0.value))" }
            out += "  \"processes\": {\(names.joined(separator: ", "))},\n"
        }
        out += "  \"report\": {\n"
        out += values.map { "    \"\(jsonEscaped($0.key))\": \($0.value)" }.joined(separator: ",\n")
        out += "\n  }\n}\n"
        return out
    }

    /// Parses a golden file's text. Errors are TraceErrors with exit code 65.
    public init(json text: String, file: String) throws {
        func bad(_ why: String) -> TraceError { TraceError(.dataError, file: file, "not a vmreplay golden: \(why)") }
        guard let data = text.data(using: .utf8),
              let root = try? JSONSerialization.jsonObject(with: data) as? [String: Any]
        else { throw bad("invalid JSON") }
        // A `replay --format json` report (its header names the trace and the settings).
        if root["vmreplay_golden"] == nil, let fromReport = try Golden(reportJSON: root, file: file) {
            self = fromReport
            return
        }
        guard let version = root["vmreplay_golden"] as? Int else { throw bad("no \"vmreplay_golden\" version") }
        guard version == Golden.formatVersion else { throw bad("version \(version) is not \(Golden.formatVersion)") }
        guard let trace = root["trace"] as? [String: Any], let name = trace["name"] as? String,
              let crc = jsonInteger(trace["crc32"], as: UInt32.self), let bytes = jsonInteger(trace["bytes"], as: UInt64.self)
        else { throw bad("no \"trace\" name/crc32/bytes") }
        traceName = name
        checksum = TraceChecksum(crc32: crc, bytes: bytes)
        guard let settingsObject = root["settings"] as? [String: Any] else { throw bad("no \"settings\"") }
        settings = try settingsObject.keys.sorted().map { k in
            guard let v = jsonInteger(settingsObject[k], as: Int64.self) else { throw bad("setting \(k) is not an integer") }
            return (k, v)
        }
        func byteCount(_ key: String, default value: UInt64) throws -> UInt64 {
            guard let field = root[key] else { return value }
            guard let n = jsonInteger(field, as: UInt64.self) else { throw bad("\"\(key)\" is not a byte count") }
            return n
        }
        physicalMemory = try byteCount("phys_mem", default: ReplayConfiguration().physicalMemory)
        swap = try byteCount("swap", default: 0)
        // The settings are checked as the command line checks -s and --phys-mem.
        do { _ = try Setting.configuration(settings, base: ReplayConfiguration()) } catch { throw bad(error.description) }
        guard physicalMemory >= ReplayConfiguration.minimumPhysicalMemory else {
            throw bad("\"phys_mem\" \(physicalMemory) is below 4M, the smallest --phys-mem")
        }
        for (pid, name) in root["processes"] as? [String: Any] ?? [:] {
            if let p = UInt32(pid), let n = name as? String { processNames[p] = n }
        }
        guard let report = root["report"] as? [String: Any] else { throw bad("no \"report\"") }
        // JSONSerialization loses key order; the report's own order is restored when comparing.
        values = try report.keys.sorted().map { k in
            guard let n = jsonInteger(report[k], as: Int64.self) else { throw bad("report key \(k) is not an integer") }
            return (k, n)
        }
    }
}

/// One key that differs between a golden and a replay.
public struct GoldenDifference: Equatable, Sendable {
    public var key: String
    public var golden: Int64?
    public var actual: Int64?
}

public struct CheckOutcome: Sendable {
    public var differences: [GoldenDifference]
    /// Keys that differ by no more than their `--tolerance` (they pass).
    public var tolerated: [GoldenDifference] = []
    /// Deterministic keys the replay reports that the golden lacks (informational).
    public var newKeys: [String]
    public var comparedKeys: Int
    /// The golden was made from a different trace file.
    public var traceMismatch: String?

    public var passed: Bool { differences.isEmpty && traceMismatch == nil }

    /// The differing keys as `vmreplay diff` prints them: grouped like the text report, with
    /// golden, actual, delta and relative change.
    public func renderDifferences() -> String {
        let changes = differences.map { ReportDiff.Change(key: $0.key, a: $0.golden.map { .int($0) }, b: $0.actual.map { .int($0) }) }
        return ReportDiff(changes: changes, comparedKeys: comparedKeys).render(labels: ("golden", "actual"))
    }

    /// The plain table (key, golden, actual, delta, delta%) for differences within --tolerance.
    public static func renderTable(_ differences: [GoldenDifference]) -> String {
        var rows: [[String]] = [["key", "golden", "actual", "delta", "delta%"]]
        for d in differences {
            var delta = "-", percent = "-"
            if let g = d.golden, let a = d.actual {
                let change = a.subtractingReportingOverflow(g).partialValue
                delta = (change >= 0 ? "+" : "") + String(change)
                if g != 0 {
                    percent = String(format: "%+.1f%%", Double(change) / Double(g.magnitude) * 100)
                }
            }
            rows.append([d.key, d.golden.map(String.init) ?? "(missing)", d.actual.map(String.init) ?? "(missing)", delta, percent])
        }
        // The key column left-aligned, the numbers right-aligned.
        var widths = [0, 0, 0, 0, 0]
        for r in rows { for (i, c) in r.enumerated() { widths[i] = max(widths[i], c.count) } }
        return rows.map { r in
            r.enumerated().map { i, c in
                let pad = String(repeating: " ", count: widths[i] - c.count)
                return i == 0 ? c + pad : pad + c
            }.joined(separator: "  ")
        }.joined(separator: "\n") + "\n"
    }
}

public enum GoldenCheck {
    /// Compares `report` with `golden`, restricted to keys matching `keyGlobs` (fnmatch) if any.
    public static func compare(golden: Golden, report: Report, actualChecksum: TraceChecksum,
                               keyGlobs: [String] = [], tolerances: Tolerances = Tolerances()) -> CheckOutcome
    {
        let selected = KeySelection(keyGlobs).selects
        let goldenValues = Dictionary(golden.values.map { ($0.key, $0.value) }, uniquingKeysWith: { a, _ in a })
        var differences: [GoldenDifference] = []
        var tolerated: [GoldenDifference] = []
        var compared = 0
        var seen = Set<String>()
        // Report order first, then golden keys the report no longer has.
        for (key, value) in report.entries where !Report.isWallClock(key) && selected(key) {
            guard let expected = goldenValues[key] else { continue }
            seen.insert(key)
            compared += 1
            guard value.asInt != expected else { continue }
            let d = GoldenDifference(key: key, golden: expected, actual: value.asInt)
            if let actual = value.asInt, tolerances.limit(for: key)?.allows(golden: expected, actual: actual) == true {
                tolerated.append(d)
            } else {
                differences.append(d)
            }
        }
        for (key, expected) in golden.values where !seen.contains(key) && !Report.isWallClock(key) && selected(key) {
            compared += 1
            differences.append(GoldenDifference(key: key, golden: expected, actual: nil))
        }
        let newKeys = report.entries.map(\.key).filter {
            !Report.isWallClock($0) && goldenValues[$0] == nil && selected($0) && report[$0]?.asInt != nil
        }
        var mismatch: String?
        if golden.checksum != actualChecksum {
            mismatch = "the golden was made from another trace (\(golden.traceName), \(golden.checksum)); "
                + "this trace is \(actualChecksum)"
        }
        return CheckOutcome(differences: differences, tolerated: tolerated, newKeys: newKeys,
                            comparedKeys: compared, traceMismatch: mismatch)
    }
}
