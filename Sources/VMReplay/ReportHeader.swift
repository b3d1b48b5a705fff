// What a report is of: the trace (name, checksum), the vmreplay that made it, the settings.
// `replay --format json` puts it under one key, "vmreplay", beside the report's flat keys
// (SPEC §3: the keys stay top-level), so that such a file is also a golden `check` can read.
import Foundation
import VMTrace

public enum VMReplayVersion {
    public static let string = "1.1.0"
}

public struct ReportHeader: Sendable {
    public var traceName: String
    /// Nil for standard input (it cannot be read twice).
    public var checksum: TraceChecksum?
    public var settings: [(name: String, value: Int64)]
    public var physicalMemory: UInt64
    public var swap: UInt64

    public init(traceName: String, checksum: TraceChecksum?, settings: [(name: String, value: Int64)],
                configuration: ReplayConfiguration)
    {
        self.traceName = traceName
        self.checksum = checksum
        self.settings = settings
        physicalMemory = configuration.physicalMemory
        swap = configuration.swap
    }

    /// The header object (one line).
    public func renderJSON() -> String {
        var trace = "\"name\": \(jsonStringLiteral(traceName))"
        if let checksum { trace += ", \"crc32\": \(checksum.crc32), \"bytes\": \(checksum.bytes)" }
        let s = settings.map { "\(jsonStringLiteral($0.name)): \($0.value)" }.joined(separator: ", ")
        return "{\"version\": \(jsonStringLiteral(VMReplayVersion.string)), \"trace\": {\(trace)}, "
            + "\"settings\": {\(s)}, \"phys_mem\": \(physicalMemory), \"swap\": \(swap)}"
    }
}

extension Report {
    /// The JSON object with the header first, under "vmreplay", then every key.
    public func renderJSON(header: ReportHeader) -> String {
        let body = renderJSON()
        guard body.hasPrefix("{\n") else { return body }
        var head = header.renderJSON()
        if !sigsegvSamples.isEmpty {
            head = head.dropLast() + ", \"sigsegv\": [" + sigsegvSamples.map(\.json).joined(separator: ", ") + "]}"
        }
        return "{\n  \"vmreplay\": \(head),\n" + body.dropFirst(2)
    }

    /// Only the keys `selection` selects, in report order (`replay --keys`).
    public func selecting(_ selection: KeySelection) -> Report {
        var out = Report()
        for (key, value) in entries where selection.selects(key) { out.set(key, value) }
        out.processNames = processNames   // printed after a process's selected keys only
        return out
    }
}

extension Golden {
    /// A `replay --format json` report with its header, read as a golden: the header gives the
    /// trace and the settings, the integer keys the values (wall-clock keys are left out).
    init?(reportJSON root: [String: Any], file: String) throws {
        guard let header = root["vmreplay"] as? [String: Any] else { return nil }
        func bad(_ why: String) -> TraceError { TraceError(.dataError, file: file, "not a vmreplay report: \(why)") }
        guard let trace = header["trace"] as? [String: Any], let name = trace["name"] as? String,
              let crc = (trace["crc32"] as? NSNumber)?.uint32Value, let bytes = (trace["bytes"] as? NSNumber)?.uint64Value
        else { throw bad("its header has no trace name/crc32/bytes (a report of standard input cannot be a golden)") }
        let settingsObject = header["settings"] as? [String: Any] ?? [:]
        var settings: [(name: String, value: Int64)] = []
        for k in settingsObject.keys.sorted() {
            guard let v = (settingsObject[k] as? NSNumber)?.int64Value else { throw bad("setting \(k) is not a number") }
            settings.append((k, v))
        }
        var values: [(key: String, value: Int64)] = []
        for k in root.keys.sorted() where k != "vmreplay" && !Report.isWallClock(k) {
            // Integers only: text values (process names) are not compared.
            guard let n = root[k] as? NSNumber, n.doubleValue == Double(n.int64Value) else { continue }
            values.append((k, n.int64Value))
        }
        var report = Report()
        for (k, v) in values { report.set(k, v) }
        for (k, v) in root where k.hasPrefix("proc.") && k.hasSuffix(".comm") {
            if let name = v as? String, let pid = UInt32(k.dropFirst(5).dropLast(5)) { report.processNames[pid] = name }
        }
        var configuration = ReplayConfiguration()
        configuration.physicalMemory = (header["phys_mem"] as? NSNumber)?.uint64Value ?? configuration.physicalMemory
        configuration.swap = (header["swap"] as? NSNumber)?.uint64Value ?? 0
        self.init(traceName: name, checksum: TraceChecksum(crc32: crc, bytes: bytes), settings: settings,
                  configuration: configuration, report: report)
    }
}
