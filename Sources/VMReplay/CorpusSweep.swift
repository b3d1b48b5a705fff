// A sweep over a corpus: every trace times every combination of settings. Each trace is
// decoded once for all its settings (as a one-trace sweep is); up to `jobs` traces run at a
// time. An engine that fails (a kernel error, the memory budget) marks its own row failed; a
// trace that cannot be read marks all its rows failed; the other rows go on.
import Foundation
import VMKernel
import VMTrace

/// How the rows are laid out: `single` is the one-trace sweep's own output (a trace file given
/// alone), `corpus` adds the trace's name and checksum to every row.
public enum SweepLayout: String, Sendable {
    case single, corpus
}

/// The work list of a sweep: traces x combinations, trace-major.
public struct SweepPlan: Sendable {
    public var traces: [CorpusTrace]
    public var settings: [Setting]
    public var combinations: [[(String, Int64)]]
    public var layout: SweepLayout
    public var format: ReportFormat
    /// The replay options every row ran with (memory sizes, --keep-going, invariant checks),
    /// as `ReplayConfiguration.studyText` writes them: parts made with others do not merge.
    public var replayOptions: String

    public init(traces: [CorpusTrace], settings: [Setting], layout: SweepLayout, format: ReportFormat,
                replayOptions: String)
    {
        self.traces = traces
        self.settings = settings
        combinations = Setting.product(settings)
        self.layout = layout
        self.format = format
        self.replayOptions = replayOptions
    }

    public var itemCount: Int { traces.count * combinations.count }
    public func trace(ofItem i: Int) -> Int { i / max(combinations.count, 1) }
    public func combination(ofItem i: Int) -> Int { i % max(combinations.count, 1) }

    /// Each item's cost for sharding: its trace's size.
    public var costs: [UInt64] {
        (0..<itemCount).map { traces[trace(ofItem: $0)].checksum.bytes }
    }

    /// `ls.vmt.gz vm.prefault_pages=4`: an item as messages name it.
    public func describe(item i: Int) -> String {
        ([traces[trace(ofItem: i)].name] + combinations[combination(ofItem: i)].map { "\($0.0)=\($0.1)" })
            .joined(separator: " ")
    }

    /// The traces called `name` (with or without suffix); none is a usage error.
    public func traces(named name: String) throws -> [Int] {
        let found = traces.indices.filter { traces[$0].name == name || traces[$0].stem == name }
        guard !found.isEmpty else {
            throw TraceError(.usage, "--plot-trace \(name): no such trace in the sweep (traces: "
                + traces.map(\.name).joined(separator: ", ") + ")")
        }
        return found
    }

    /// What makes two runs the same study: the command, the output, the replay options, the
    /// traces and the settings. (Not --jobs, nor the memory budget, whose default depends on
    /// the machine.)
    public var studyID: String {
        var text = "sweep\n\(layout.rawValue)\n\(format.rawValue)\n\(replayOptions)\n"
        for t in traces { text += t.identity + "\n" }
        for s in settings { text += s.name + "=" + s.values.map(String.init).joined(separator: ",") + "\n" }
        return studyHash(text)
    }
}

/// One (trace, settings) row: its report, or why it failed.
public struct CorpusRow: Sendable {
    public var item: Int
    public var report: Report?
    public var failure: String?
}

extension ReplayConfiguration {
    /// The options a study's rows depend on besides the swept settings, in one line.
    public func studyText(keepGoing: Bool) -> String {
        var text = "phys_mem=\(physicalMemory) swap=\(swap) keep_going=\(keepGoing)"
        if checkInvariants { text += " invariants_every=\(invariantInterval)" }
        return text
    }
}

public enum CorpusSweep {
    /// Replays the given items of `plan` (all by default), up to `jobs` traces at a time, each
    /// engine held to `memoryBudget` bytes of host memory (nil: no limit). Rows come back in
    /// item order.
    public static func run(plan: SweepPlan, items: [Int]? = nil, base: ReplayConfiguration,
                           keepGoing: Bool, jobs: Int, memoryBudget: UInt64?,
                           traceDone: (@Sendable (String) -> Void)? = nil) -> [CorpusRow]
    {
        let wanted = items ?? Array(0..<plan.itemCount)
        // Items grouped by trace, in work-list order.
        var grouping: [(trace: Int, items: [Int])] = []
        for i in wanted {
            let t = plan.trace(ofItem: i)
            if grouping.last?.trace == t { grouping[grouping.count - 1].items.append(i) } else { grouping.append((t, [i])) }
        }
        let groups = grouping
        let results = ResultSlots<[CorpusRow]>(count: groups.count)
        let next = ResultSlots<Int>(count: 1)
        DispatchQueue.concurrentPerform(iterations: max(1, min(jobs, groups.count))) { _ in
            while let g = next.takeNext(limit: groups.count) {
                let group = groups[g]
                let trace = plan.traces[group.trace]
                let combos = group.items.map { plan.combinations[plan.combination(ofItem: $0)] }
                let outcomes = replay(trace: trace, combinations: combos, base: base, keepGoing: keepGoing,
                                      memoryBudget: memoryBudget)
                results.set(g, zip(group.items, outcomes).map { CorpusRow(item: $0, report: $1.report, failure: $1.failure) })
                traceDone?(trace.name)
            }
        }
        return results.values.flatMap { $0 ?? [] }
    }

    /// One trace under several combinations, decoded once.
    static func replay(trace: CorpusTrace, combinations: [[(String, Int64)]], base: ReplayConfiguration,
                       keepGoing: Bool, memoryBudget: UInt64?) -> [(report: Report?, failure: String?)]
    {
        let engines: [Replayer]
        do {
            engines = try combinations.map { combo throws in try Replayer(try Setting.configuration(combo, base: base)) }
        } catch {
            return combinations.map { _ in (nil, "\(error)") }
        }
        for engine in engines { engine.keepGoing = keepGoing }
        let failures = ResultSlots<String>(count: engines.count)
        var skipped = 0
        do {
            let reader = try TraceReader(path: trace.path, options: .init(keepGoing: keepGoing, batchSize: 16384))
            let name = reader.displayName, format = reader.format
            try BatchPipeline.run(reader: reader) { batch, _ in
                let live = engines.indices.filter { failures[$0] == nil }
                guard !live.isEmpty else { throw AllEnginesStopped() }
                DispatchQueue.concurrentPerform(iterations: live.count) { j in
                    let engine = engines[live[j]]
                    do {
                        try engine.apply(batch)
                        if let memoryBudget, let over = HostMemory.overBudget(engine.kernel, budget: memoryBudget) {
                            failures.set(live[j], "event \(engine.events): \(over)")
                        }
                    } catch {
                        failures.set(live[j], located(error, file: name, format: format))
                    }
                }
            }
            skipped = reader.skippedEvents
            if base.checkInvariants {
                for (i, engine) in engines.enumerated() where failures[i] == nil {
                    do { try engine.checkInvariants() } catch { failures.set(i, "\(error)") }
                }
            }
        } catch is AllEnginesStopped {
        } catch let error as TraceError {
            // The trace itself is bad: no row of it can be trusted.
            let message = error.description.hasPrefix("vmreplay: ")
                ? String(error.description.dropFirst("vmreplay: ".count)) : error.description
            return combinations.map { _ in (nil, message) }
        } catch {
            return combinations.map { _ in (nil, "\(error)") }
        }
        return engines.enumerated().map { i, engine in
            if let failure = failures[i] { return (nil, failure) }
            var report = engine.finish()
            // Under --keep-going, the events this engine's kernel refused count as skipped too.
            report.set("replay.skipped_events", skipped + engine.rejected)
            return (report, nil)
        }
    }
}

private struct AllEnginesStopped: Error {}

/// A failure's text for a row: a kernel refusal named by line or byte offset, like the trace
/// layer's errors (`TRACE:LINE: message`), anything else as it describes itself.
private func located(_ error: Error, file: String, format: TraceFormat) -> String {
    guard let refusal = error as? ReplayError else { return "\(error)" }
    let description = refusal.dataError(file: file, format: format).description
    return description.hasPrefix("vmreplay: ") ? String(description.dropFirst("vmreplay: ".count)) : description
}

/// Values written by worker threads, one slot each, plus a shared counter for handing out work.
final class ResultSlots<Value>: @unchecked Sendable {
    private var slots: [Value?]
    private var counter = 0
    private let lock = NSLock()

    init(count: Int) { slots = Array(repeating: nil, count: count) }

    subscript(i: Int) -> Value? {
        lock.lock()
        defer { lock.unlock() }
        return slots[i]
    }

    func set(_ i: Int, _ value: Value) {
        lock.lock()
        if slots[i] == nil { slots[i] = value }
        lock.unlock()
    }

    var values: [Value?] {
        lock.lock()
        defer { lock.unlock() }
        return slots
    }

    /// The next unclaimed index below `limit`, or nil when all are taken.
    func takeNext(limit: Int) -> Int? {
        lock.lock()
        defer { lock.unlock() }
        guard counter < limit else { return nil }
        counter += 1
        return counter - 1
    }
}
