// `sweep`: the cartesian product of settings replayed in one pass over the trace. The trace is
// decoded once; every batch goes to every configuration's engine, the engines running
// concurrently on the machine's cores.
import Foundation
import VMKernel
import VMTrace

/// One row of a sweep: the swept settings and the report they gave.
public struct SweepRow: Sendable {
    public var settings: [(name: String, value: Int64)]
    public var report: Report
}

public struct SweepResult: Sendable {
    public var rows: [SweepRow]
    public var skippedEvents: Int
    public var skippedSamples: [TraceError]
    public var wallSeconds: Double

    /// The row every other is compared with: the one whose swept values are all the defaults,
    /// else the first.
    public var baselineIndex: Int {
        let defaults = Tunables()
        return rows.firstIndex { row in
            row.settings.allSatisfy { defaults[$0.name] == $0.value }
        } ?? 0
    }
}

public enum SweepDriver {
    /// Replays `path` once for every combination of `settings` on top of `base`.
    public static func run(path: String, settings: [Setting], base: ReplayConfiguration,
                           keepGoing: Bool = false, progressInterval: Double = 0.25,
                           progress: ((ReplayProgress) -> Void)? = nil,
                           prepare: ((Int, Replayer) -> Void)? = nil) throws -> SweepResult
    {
        let started = Date()
        let combinations = Setting.product(settings)
        var created: [Replayer] = []
        for combo in combinations {
            created.append(try Replayer(try Setting.configuration(combo, base: base)))
            created[created.count - 1].keepGoing = keepGoing
            prepare?(created.count - 1, created[created.count - 1])
        }
        let engines = created
        let reader = try TraceReader(path: path, options: .init(keepGoing: keepGoing, batchSize: 16384))
        var lastReport = started
        let failures = FailureSlots(count: engines.count)
        try BatchPipeline.run(reader: reader) { batch, traceProgress in
            if engines.count == 1 {
                try engines[0].apply(batch)
            } else {
                DispatchQueue.concurrentPerform(iterations: engines.count) { i in
                    do { try engines[i].apply(batch) } catch { failures.record(i, error) }
                }
                if let error = failures.first { throw error }
            }
            if let progress {
                let now = Date()
                if now.timeIntervalSince(lastReport) >= progressInterval {
                    lastReport = now
                    progress(ReplayProgress(trace: traceProgress, elapsedSeconds: now.timeIntervalSince(started)))
                }
            }
        }
        if base.checkInvariants { for engine in engines { try engine.checkInvariants() } }
        let rows = zip(combinations, engines).map { combo, engine in
            var report = engine.finish()
            // Under --keep-going, events this engine's kernel refused are skipped events too;
            // they differ from one setting to the next (a smaller memory refuses more).
            report.set("replay.skipped_events", reader.skippedEvents + engine.rejected)
            return SweepRow(settings: combo.map { (name: $0.0, value: $0.1) }, report: report)
        }
        // The warning counts the most any setting skipped and shows each refusal once.
        var refusals: [TraceError] = []
        for engine in engines {
            for sample in engine.rejectedSamples.map(reader.dataError) where !refusals.contains(sample) {
                refusals.append(sample)
            }
        }
        return SweepResult(rows: rows, skippedEvents: reader.skippedEvents + (engines.map(\.rejected).max() ?? 0),
                           skippedSamples: reader.skippedErrors + refusals.prefix(ErrorPolicy.maxSamples),
                           wallSeconds: Date().timeIntervalSince(started))
    }
}

/// Errors raised by engines on worker threads, each engine writing only its own slot.
private final class FailureSlots: @unchecked Sendable {
    private var slots: [Error?]
    private let lock = NSLock()

    init(count: Int) { slots = Array(repeating: nil, count: count) }

    func record(_ i: Int, _ error: Error) {
        lock.lock()
        slots[i] = error
        lock.unlock()
    }

    var first: Error? {
        lock.lock()
        defer { lock.unlock() }
        return slots.compactMap { $0 }.first
    }
}

// MARK: - presenting a sweep

extension SweepResult {
    /// The columns of the sweep table after the settings.
    static let tableColumns: [(header: String, key: String)] = [
        ("traps", "trap.page_faults"),
        ("v_vm_faults", "vm.stats.vm.v_vm_faults"),
        ("v_zfod", "vm.stats.vm.v_zfod"),
        ("v_cow_faults", "vm.stats.vm.v_cow_faults"),
        ("ru_minflt", "rusage.ru_minflt"),
        ("ru_majflt", "rusage.ru_majflt"),
        ("pf.pages", "prefault.pages"),
        ("pf.hits", "prefault.hits"),
    ]

    /// A table for people: settings, the main counters, the prefault hit ratio, peak resident
    /// pages, and the change in traps against the baseline row.
    public func renderTable() -> String { alignTable(tableCells()) }

    /// The table's cells, header first (a corpus sweep puts a trace column in front).
    func tableCells() -> [[String]] {
        let baseline = rows.isEmpty ? nil : rows[baselineIndex].report
        let baseTraps = baseline?["trap.page_faults"]?.asDouble ?? 0
        var header = rows.first?.settings.map(\.name) ?? []
        header += SweepResult.tableColumns.map(\.header) + ["hit%", "peak.pages", "traps vs base"]
        var table: [[String]] = [header]
        for (i, row) in rows.enumerated() {
            var cells = row.settings.map { String($0.value) }
            for (_, key) in SweepResult.tableColumns {
                cells.append(Report.grouped(row.report[key] ?? .int(0)))
            }
            let pages = row.report["prefault.pages"]?.asDouble ?? 0
            let hits = row.report["prefault.hits"]?.asDouble ?? 0
            cells.append(pages > 0 ? String(format: "%.1f", 100 * hits / pages) : "-")
            cells.append(Report.grouped(row.report["mem.peak_resident_pages"] ?? .int(0)))
            let traps = row.report["trap.page_faults"]?.asDouble ?? 0
            if i == baselineIndex {
                cells.append("baseline")
            } else if baseTraps > 0 {
                cells.append(String(format: "%+.1f%%", 100 * (traps - baseTraps) / baseTraps))
            } else {
                cells.append(traps == 0 ? "0" : "+inf")
            }
            table.append(cells)
        }
        return table
    }

    /// CSV: a header (settings first, then every report key) and one row per setting.
    public func renderCSV() -> String {
        let reports = rows.map { row -> Report in
            var r = Report()
            for s in row.settings { r.set("sweep." + s.name, s.value) }
            for (k, v) in row.report.entries { r.set(k, v) }
            return r
        }
        return Report.renderCSV(reports)
    }

    /// JSON: an array with one object per row: its settings and its full report.
    public func renderJSON() -> String {
        var out = "[\n"
        for (i, row) in rows.enumerated() {
            let settings = row.settings.map { "\"\(jsonEscaped($0.name))\": \($0.value)" }.joined(separator: ", ")
            out += "  {\"settings\": {\(settings)}, \"report\": \(row.report.renderJSON(pretty: false))}"
            out += i + 1 < rows.count ? ",\n" : "\n"
        }
        return out + "]\n"
    }

    public func render(_ format: ReportFormat) -> String {
        switch format {
        case .text: return renderTable()
        case .csv: return renderCSV()
        case .json: return renderJSON()
        case .sysctl:
            return rows.map { row in
                "# " + row.settings.map { "\($0.name)=\($0.value)" }.joined(separator: " ") + "\n"
                    + row.report.renderSysctl()
            }.joined(separator: "\n")
        }
    }
}

/// Right-aligns every column but the first row's text.
func alignTable(_ rows: [[String]]) -> String {
    let columns = rows.map(\.count).max() ?? 0
    var widths = Array(repeating: 0, count: columns)
    for r in rows {
        for (i, c) in r.enumerated() { widths[i] = max(widths[i], c.count) }
    }
    return rows.map { r in
        r.enumerated().map { i, c in String(repeating: " ", count: widths[i] - c.count) + c }
            .joined(separator: "  ")
    }.joined(separator: "\n") + "\n"
}
