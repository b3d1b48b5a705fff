// Scenario tests: short traces under Scenarios/ whose `#!` comment lines carry the settings and
// the expected counters, each derived by hand from the seed (see Scenarios/README.md).
import Foundation
import VMKernel
import VMReplay
import VMTrace
import XCTest

/// A parsed scenario file.
struct Scenario {
    var name: String
    var path: String
    var settings: [(String, Int64)] = []
    var physicalMemory: UInt64?
    var swap: UInt64?
    var expectations: [(key: String, value: Int64, reason: String, line: Int)] = []

    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Scenarios")

    static func all() throws -> [Scenario] {
        let names = try FileManager.default.contentsOfDirectory(atPath: directory.path)
            .filter { $0.hasSuffix(".vmtrace") }.sorted()
        return try names.map { try Scenario(path: directory.appendingPathComponent($0).path) }
    }

    init(path: String) throws {
        self.path = path
        name = URL(fileURLWithPath: path).lastPathComponent
        let text = try String(contentsOfFile: path, encoding: .utf8)
        for (i, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.trimmingCharacters(in: .whitespaces)
            guard line.hasPrefix("#!") else { continue }
            let body = line.dropFirst(2).trimmingCharacters(in: .whitespaces)
            let (directive, reason) = Scenario.splitReason(body)
            let words = directive.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
            guard let verb = words.first else { continue }
            switch verb {
            case "set":
                for w in words.dropFirst() {
                    let kv = w.split(separator: "=", maxSplits: 1).map(String.init)
                    guard kv.count == 2, let v = Int64(kv[1]) else {
                        throw ScenarioError("\(name):\(i + 1): bad set '\(w)'")
                    }
                    settings.append((kv[0], v))
                }
            case "phys-mem", "swap":
                guard words.count == 2, let v = parseNumber(words[1]), v > 0 else {
                    throw ScenarioError("\(name):\(i + 1): bad \(verb) '\(directive)'")
                }
                if verb == "swap" { swap = UInt64(v) } else { physicalMemory = UInt64(v) }
            case "expect":
                var rest = Array(words.dropFirst())
                rest.removeAll { $0 == "=" }
                guard rest.count == 2, let v = Int64(rest[1]) else {
                    throw ScenarioError("\(name):\(i + 1): bad expect '\(directive)'")
                }
                let key = rest[0].hasPrefix("v_") ? "vm.stats.vm." + rest[0] : rest[0]
                expectations.append((key, v, reason, i + 1))
            default:
                throw ScenarioError("\(name):\(i + 1): unknown directive '\(verb)'")
            }
        }
    }

    static func splitReason(_ s: String) -> (String, String) {
        if let r = s.range(of: "--") {
            return (String(s[..<r.lowerBound]), String(s[r.upperBound...]).trimmingCharacters(in: .whitespaces))
        }
        return (s, "")
    }

    /// How a scenario is replayed: every way must give the hand-derived counters.
    enum Path: String, CaseIterable {
        /// Event by event (`Replayer.apply(TraceEvent)`).
        case events
        /// Packed batches with runs counted in one step, as `vmreplay replay` does.
        case packed
        /// Packed, with the access audit after every access and the invariant checks at the
        /// end (checks every few events would cut the runs short).
        case audited
    }

    func run(_ path: Path = .events) throws -> Report {
        var tunables = Tunables()
        for (k, v) in settings { try tunables.set(k, to: v) }
        var config = ReplayConfiguration(tunables: tunables)
        if let physicalMemory { config.physicalMemory = physicalMemory }
        if let swap { config.swap = swap }
        if path == .audited {
            config.checkInvariants = true
        }
        let replayer = try Replayer(config)
        let reader = try TraceReader(path: self.path)
        var batch: [TraceEvent] = []
        while try reader.nextBatch(into: &batch) {
            if path == .events { try replayer.apply(batch) } else { try replayer.apply(ReplayBatch(batch)) }
        }
        if path == .audited { try replayer.checkInvariants() }
        return replayer.finish()
    }
}

struct ScenarioError: Error, CustomStringConvertible {
    var description: String
    init(_ d: String) { description = d }
}

final class ScenarioTests: XCTestCase {
    func testEveryScenarioMatchesItsHandDerivedCounters() throws {
        let scenarios = try Scenario.all()
        XCTAssertGreaterThanOrEqual(scenarios.count, 5, "scenario files missing")
        var checked = 0
        for s in scenarios {
            XCTAssertFalse(s.expectations.isEmpty, "\(s.name) expects nothing")
            for path in Scenario.Path.allCases { checked += check(s, path) }
        }
        XCTAssertGreaterThan(checked, 0)
        print("scenario checks: \(scenarios.count) scenarios, \(checked) expectations")
    }

    /// Replays `s` the way `path` says and compares every expectation; returns how many matched.
    private func check(_ s: Scenario, _ path: Scenario.Path) -> Int {
        let report: Report
        do {
            report = try s.run(path)
        } catch {
            XCTFail("\(s.name) (\(path)): \(error)")
            return 0
        }
        var checked = 0
        for e in s.expectations {
            guard let actual = report[e.key] else {
                XCTFail("\(s.name):\(e.line): no report key \(e.key)")
                continue
            }
            XCTAssertEqual(actual.asInt, e.value, "\(s.name):\(e.line) (\(path)): \(e.key) -- \(e.reason)")
            checked += 1
        }
        // Every prefaulted page is eventually used or not (SPEC §3 prefault accounting).
        if let pages = report["prefault.pages"]?.asInt, let hits = report["prefault.hits"]?.asInt,
           let unused = report["prefault.unused"]?.asInt
        {
            XCTAssertEqual(hits + unused, pages, "\(s.name) (\(path)): prefault.hits + prefault.unused != prefault.pages")
        }
        return checked
    }
}
