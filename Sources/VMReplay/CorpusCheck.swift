// `vmreplay check DIR_OR_TRACES... --expect-dir DIR`: every golden of DIR whose trace is in the
// corpus is checked (a trace may have several goldens, one per setting), and every trace
// without a golden is reported as such (--update creates it as STEM.json). Items run
// concurrently; one summary table; with --update nothing is written unless every replay
// succeeded.
import Foundation
import VMTrace

/// One golden to check, or one trace that has none yet.
public struct CheckItem: Sendable {
    /// The golden's file name inside the directory (`ls.json`).
    public var goldenName: String
    public var goldenPath: String
    public var trace: CorpusTrace
    /// nil: the trace has no golden yet.
    public var golden: Golden?

    public var id: String { "\(goldenName) \(trace.identity)" }
}

public enum CheckStatus: String, Sendable {
    case ok, differs, missing, failed, written
}

/// What checking one item found.
public struct CheckItemOutcome: Sendable {
    public var golden: String
    public var trace: String
    public var status: CheckStatus
    public var compared = 0
    public var newKeys = 0
    public var differences: [GoldenDifference] = []
    public var mismatch: String?
    public var error: String?
}

public enum CorpusCheck {
    /// The items of `traces` against the goldens in `directory`, in golden-name order.
    public static func items(traces: [CorpusTrace], directory: String) throws -> [CheckItem] {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw TraceError(.noInput, file: directory, "no such directory of goldens")
        }
        let dir = directory.hasSuffix("/") ? directory : directory + "/"
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).filter { $0.hasSuffix(".json") }
        var items: [CheckItem] = []
        var covered = Set<String>()
        for name in names {
            guard let data = FileManager.default.contents(atPath: dir + name) else {
                throw TraceError(.noInput, file: dir + name, "cannot read the golden")
            }
            let golden = try Golden(json: String(decoding: data, as: UTF8.self), file: dir + name)
            // Goldens of traces outside the corpus are not this run's business.
            guard let trace = traces.first(where: { $0.name == golden.traceName }) else { continue }
            covered.insert(trace.identity)
            items.append(CheckItem(goldenName: name, goldenPath: dir + name, trace: trace, golden: golden))
        }
        for trace in traces where !covered.contains(trace.identity) {
            let name = trace.stem + ".json"
            guard !items.contains(where: { $0.goldenName == name }) else {
                throw TraceError(.usage, "\(trace.path) has no golden, and \(dir + name) belongs to another trace")
            }
            items.append(CheckItem(goldenName: name, goldenPath: dir + name, trace: trace, golden: nil))
        }
        return items.sorted { ($0.goldenName, $0.trace.identity) < ($1.goldenName, $1.trace.identity) }
    }

    /// The work list's identity for partial results; `options` are the command line's replay
    /// options (-s overrides, memory sizes, --keep-going) in one line.
    public static func studyID(_ items: [CheckItem], update: Bool, options: String) -> String {
        studyHash("check\n\(update)\n\(options)\n" + items.map(\.id).joined(separator: "\n"))
    }

    /// Checks the items, up to `jobs` at a time. `configure` gives the replay configuration and
    /// the setting assignments for an item's golden (nil: defaults). With `update`, the fresh
    /// golden texts come back (by item index) instead of comparisons.
    public static func run(_ items: [CheckItem], update: Bool, keepGoing: Bool, jobs: Int,
                           configure: @Sendable (Golden?) throws -> (ReplayConfiguration, [(name: String, value: Int64)]))
        -> [(outcome: CheckItemOutcome, fresh: String?)]
    {
        let slots = ResultSlots<(CheckItemOutcome, String?)>(count: items.count)
        let next = ResultSlots<Int>(count: 1)
        DispatchQueue.concurrentPerform(iterations: max(1, min(jobs, items.count))) { _ in
            while let i = next.takeNext(limit: items.count) {
                slots.set(i, check(items[i], update: update, keepGoing: keepGoing, configure: configure))
            }
        }
        return slots.values.map { $0 ?? (CheckItemOutcome(golden: "?", trace: "?", status: .failed, error: "not run"), nil) }
    }

    static func check(_ item: CheckItem, update: Bool, keepGoing: Bool,
                      configure: (Golden?) throws -> (ReplayConfiguration, [(name: String, value: Int64)]))
        -> (CheckItemOutcome, String?)
    {
        var outcome = CheckItemOutcome(golden: item.goldenName, trace: item.trace.name, status: .ok)
        if item.golden == nil && !update {
            outcome.status = .missing
            return (outcome, nil)
        }
        do {
            let (config, assignments) = try configure(item.golden)
            let report = try ReplayDriver.run(path: item.trace.path, configuration: config, keepGoing: keepGoing).0
            if update {
                let fresh = Golden(traceName: item.trace.name, checksum: item.trace.checksum, settings: assignments,
                                   configuration: config, report: report)
                outcome.status = .written
                outcome.compared = fresh.values.count
                return (outcome, fresh.renderJSON())
            }
            guard let golden = item.golden else { return (outcome, nil) }
            let result = GoldenCheck.compare(golden: golden, report: report, actualChecksum: item.trace.checksum)
            outcome.compared = result.comparedKeys
            outcome.newKeys = result.newKeys.count
            outcome.differences = result.differences
            outcome.mismatch = result.traceMismatch
            outcome.status = result.passed ? .ok : .differs
        } catch let error as TraceError {
            outcome.status = .failed
            outcome.error = error.description.hasPrefix("vmreplay: ") ? String(error.description.dropFirst(10)) : error.description
        } catch {
            outcome.status = .failed
            outcome.error = "\(item.trace.name): \(error)"
        }
        return (outcome, nil)
    }
}

/// The summary of a corpus check: one table, the differences of each golden that differs, a
/// total line. Exit status: 65 if a replay failed, else 1 if a golden differs or is missing.
public struct CheckSummary: Sendable {
    public var outcomes: [CheckItemOutcome]

    public init(outcomes: [CheckItemOutcome]) { self.outcomes = outcomes }

    public var exitCode: Int32 {
        if outcomes.contains(where: { $0.status == .failed }) { return 65 }
        if outcomes.contains(where: { $0.status == .differs || $0.status == .missing }) { return 1 }
        return 0
    }

    public func render(quiet: Bool) -> String {
        let counts = Dictionary(grouping: outcomes, by: \.status).mapValues(\.count)
        var total = "vmreplay: \(outcomes.count) golden\(outcomes.count == 1 ? "" : "s"): "
        total += [CheckStatus.ok, .differs, .missing, .failed, .written].compactMap { s in
            counts[s].map { "\($0) \(s.rawValue)" }
        }.joined(separator: ", ") + "\n"
        if quiet && exitCode == 0 { return "" }
        var table: [[String]] = [["golden", "trace", "status", "keys", "differ", "note"]]
        for o in outcomes {
            var note = ""
            switch o.status {
            case .differs: note = o.mismatch ?? (o.differences.first.map { "first: \($0.key)" } ?? "")
            case .missing: note = "no golden (--update writes it)"
            case .failed: note = o.error ?? ""
            case .ok: note = o.newKeys > 0 ? "\(o.newKeys) keys not in the golden" : ""
            case .written: note = "rewritten"
            }
            table.append([o.golden, o.trace, o.status == .ok ? "ok" : o.status.rawValue.uppercased(),
                          String(o.compared), String(o.differences.count), note])
        }
        var out = leftAlignedTable(table)
        for o in outcomes where !o.differences.isEmpty {
            out += "\n\(o.golden) (\(o.trace)): \(o.differences.count) of \(o.compared) keys differ\n"
            out += CheckOutcome(differences: o.differences, newKeys: [], comparedKeys: o.compared).renderDifferences()
        }
        return out + total
    }
}

/// Columns padded on the right, the last one left as is.
func leftAlignedTable(_ rows: [[String]]) -> String {
    var widths = Array(repeating: 0, count: rows.map(\.count).max() ?? 0)
    for r in rows { for (i, c) in r.enumerated() { widths[i] = max(widths[i], c.count) } }
    return rows.map { r in
        r.enumerated().map { i, c in i + 1 == r.count ? c : c + String(repeating: " ", count: widths[i] - c.count) }
            .joined(separator: "  ").trimmingCharacters(in: .whitespaces)
    }.joined(separator: "\n") + "\n"
}

// MARK: - partial results of a sharded check

extension CorpusCheck {
    public static func renderPart(items: [CheckItem], indices: [Int], outcomes: [CheckItemOutcome],
                                  shard: ShardSpec, update: Bool, quiet: Bool, options: String) -> String
    {
        let list = items.map { "\"\(jsonEscaped($0.id))\"" }.joined(separator: ", ")
        var out = PartialResult.header(command: "check", study: studyID(items, update: update, options: options), shard: shard,
                                       items: items.count, fields: ["\"quiet\": \(quiet)", "\"work\": [\(list)]"])
        for (i, o) in zip(indices, outcomes) {
            let diffs = o.differences.map { d in
                "[\"\(jsonEscaped(d.key))\", \(d.golden.map(String.init) ?? "null"), \(d.actual.map(String.init) ?? "null")]"
            }.joined(separator: ", ")
            func str(_ s: String?) -> String { s.map { "\"\(jsonEscaped($0))\"" } ?? "null" }
            let body = "\"golden\": \(str(o.golden)), \"trace\": \(str(o.trace)), \"status\": \"\(o.status.rawValue)\", "
                + "\"compared\": \(o.compared), \"new_keys\": \(o.newKeys), \"differences\": [\(diffs)], "
                + "\"mismatch\": \(str(o.mismatch)), \"error\": \(str(o.error))"
            out += PartialResult.itemLine(i, id: items[i].id, body: body)
        }
        return out + PartialResult.end(count: indices.count)
    }
}

/// What merge needs of a check's partial result: the work list's item names and --quiet.
public struct CheckPlanHeader {
    public var work: [String]
    public var quiet: Bool

    public init(partHeader h: OrderedJSON) throws {
        guard h["command"]?.string == "check", let work = h["work"]?.array?.compactMap(\.string) else {
            throw TraceError(.dataError, "not a check's partial result")
        }
        self.work = work
        quiet = h["quiet"] == .bool(true)
    }

    public func describe(item i: Int) -> String { i < work.count ? work[i] : "item \(i)" }

    public func outcome(fromPart line: OrderedJSON, item: Int, file: String) throws -> CheckItemOutcome {
        guard line["id"]?.string == describe(item: item),
              let status = line["status"]?.string.flatMap(CheckStatus.init(rawValue:)),
              let golden = line["golden"]?.string, let trace = line["trace"]?.string
        else { throw TraceError(.dataError, file: file, "item \(item) does not match the work list ('\(describe(item: item))')") }
        var o = CheckItemOutcome(golden: golden, trace: trace, status: status)
        o.compared = Int(line["compared"]?.int ?? 0)
        o.newKeys = Int(line["new_keys"]?.int ?? 0)
        o.mismatch = line["mismatch"]?.string
        o.error = line["error"]?.string
        o.differences = (line["differences"]?.array ?? []).compactMap { d in
            guard let a = d.array, a.count == 3, let key = a[0].string else { return nil }
            return GoldenDifference(key: key, golden: a[1].int, actual: a[2].int)
        }
        return o
    }
}
