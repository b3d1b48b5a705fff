// sweep, check and the plot: each sweep row equals a separate replay; check passes, fails with
// a diff, refuses a golden from another trace, and --update round-trips; the SVG parses.
import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import VMKernel
@testable import VMReplay
import VMTrace
import VMWorkloads
import XCTest

final class SweepCheckTests: XCTestCase {
    var tempDir: URL!

    override func setUpWithError() throws {
        tempDir = FileManager.default.temporaryDirectory.appendingPathComponent("vmreplay-sweep-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: tempDir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: tempDir)
    }

    /// A synthetic trace: a few processes, forks (so COW), file mappings.
    func syntheticTrace(seed: UInt64, accesses: Int = 20_000, forks: Int = 3, name: String) throws -> String {
        let path = tempDir.appendingPathComponent(name).path
        let writer = try TraceWriter(path: path)
        try SyntheticWorkload(accesses: accesses, seed: seed, processes: 2, forks: forks).write(to: writer)
        try writer.finish()
        return path
    }

    func replay(_ path: String, _ assignments: [(String, Int64)]) throws -> Report {
        let config = ReplayConfiguration(tunables: try Setting.tunables(assignments))
        return try ReplayDriver.run(path: path, configuration: config).0
    }

    /// Deterministic keys only (wall-clock keys differ between runs by nature).
    func deterministic(_ r: Report) -> [String: ReportValue] {
        var d: [String: ReportValue] = [:]
        for (k, v) in r.entries where !Report.isWallClock(k) { d[k] = v }
        return d
    }

    func testSweepRowsEqualSeparateReplays() throws {
        let traces = [
            try syntheticTrace(seed: 11, forks: 4, name: "fork-heavy.vmt.gz"),
            try syntheticTrace(seed: 12, forks: 0, name: "no-fork.txt"),
            Scenario.directory.appendingPathComponent("03-fork-cow-both.vmtrace").path,
        ]
        let settings = [try Setting(parsing: "vm.prefault_pages=0,4,16"),
                        try Setting(parsing: "vm.shared_fault=0,1")]
        for trace in traces {
            let sweep = try SweepDriver.run(path: trace, settings: settings, base: ReplayConfiguration())
            XCTAssertEqual(sweep.rows.count, 6)
            for row in sweep.rows {
                let single = try replay(trace, row.settings.map { ($0.name, $0.value) })
                XCTAssertEqual(deterministic(row.report), deterministic(single),
                               "\(trace) \(row.settings): sweep row differs from a separate replay")
            }
        }
    }

    func testSettingRangesExpand() throws {
        XCTAssertEqual(try Setting(parsing: "vm.prefault_pages=0..64:x2").values, [0, 1, 2, 4, 8, 16, 32, 64])
        XCTAssertEqual(try Setting(parsing: "vm.prefault_pages=0,1..3,8").values, [0, 1, 2, 3, 8])
        XCTAssertEqual(try Setting(parsing: "vm.prefault_pages=4..16:4").values, [4, 8, 12, 16])
        XCTAssertEqual(try Setting(parsing: "vfs.max_readahead=1M").values, [1 << 20])
        XCTAssertThrowsError(try Setting(parsing: "vm.no_such=1"))
        XCTAssertThrowsError(try Setting(parsing: "vm.shared_fault=0,2")) // 2 is out of range 0...1
        XCTAssertThrowsError(try Setting(parsing: "vm.prefault_pages=8..4"))
    }

    func testCheckPassesFailsAndRefusesAnotherTrace() throws {
        let trace = try syntheticTrace(seed: 21, name: "t.vmt.gz")
        let other = try syntheticTrace(seed: 22, name: "other.vmt.gz")
        let config = ReplayConfiguration()
        let report = try replay(trace, [])
        let golden = Golden(traceName: "t.vmt.gz", checksum: try TraceChecksum.of(path: trace),
                            settings: [], configuration: config, report: report)
        let goldenPath = tempDir.appendingPathComponent("t.json").path
        try writeTextFileAtomically(golden.renderJSON(), to: goldenPath)

        // Round trip: the file parses back to the same keys and values.
        let parsed = try Golden(json: String(contentsOfFile: goldenPath, encoding: .utf8), file: goldenPath)
        XCTAssertEqual(Dictionary(uniqueKeysWithValues: parsed.values.map { ($0.key, $0.value) }),
                       Dictionary(uniqueKeysWithValues: golden.values.map { ($0.key, $0.value) }))
        XCTAssertEqual(parsed.checksum, golden.checksum)

        // Unchanged trace: passes, every key compared.
        let ok = GoldenCheck.compare(golden: parsed, report: try replay(trace, []),
                                     actualChecksum: try TraceChecksum.of(path: trace))
        XCTAssertTrue(ok.passed)
        XCTAssertEqual(ok.comparedKeys, golden.values.count)

        // One counter changed: fails, naming the key with golden, actual and delta.
        var tampered = parsed
        let i = tampered.values.firstIndex { $0.key == "vm.stats.vm.v_vm_faults" }!
        tampered.values[i].value += 3
        let bad = GoldenCheck.compare(golden: tampered, report: report, actualChecksum: golden.checksum)
        XCTAssertFalse(bad.passed)
        XCTAssertEqual(bad.differences.map(\.key), ["vm.stats.vm.v_vm_faults"])
        XCTAssertEqual(bad.differences[0].actual! - bad.differences[0].golden!, -3)
        XCTAssertTrue(bad.renderDifferences().contains("vm.stats.vm.v_vm_faults"))
        XCTAssertTrue(bad.renderDifferences().contains("-3"))

        // --keys restricts the comparison: the tampered key is outside the glob.
        let restricted = GoldenCheck.compare(golden: tampered, report: report, actualChecksum: golden.checksum,
                                             keyGlobs: ["prefault.*"])
        XCTAssertTrue(restricted.passed)

        // A golden made from another trace says so.
        let wrong = GoldenCheck.compare(golden: parsed, report: try replay(other, []),
                                        actualChecksum: try TraceChecksum.of(path: other))
        XCTAssertFalse(wrong.passed)
        XCTAssertNotNil(wrong.traceMismatch)

        // Wall-clock keys never enter a golden.
        XCTAssertFalse(golden.values.contains { $0.key == "replay.wall_seconds" })
    }

    func testGoldenRejectsGarbage() {
        XCTAssertThrowsError(try Golden(json: "{nope", file: "g.json")) { error in
            XCTAssertEqual((error as? TraceError)?.exitCode, 65)
        }
        XCTAssertThrowsError(try Golden(json: "{\"vmreplay_golden\": 99}", file: "g.json"))
    }

    func testPlotIsWellFormedSVGWithAxesAndOneSeriesPerGroup() throws {
        let trace = try syntheticTrace(seed: 31, name: "p.vmt.gz")
        let sweep = try SweepDriver.run(path: trace,
                                        settings: [try Setting(parsing: "vm.prefault_pages=0,2,8"),
                                                   try Setting(parsing: "vm.shared_fault=0,1")],
                                        base: ReplayConfiguration())
        let svg = SweepPlot.render(sweep, title: "p.vmt.gz")
        let delegate = SVGCollector()
        let parser = XMLParser(data: Data(svg.utf8))
        parser.delegate = delegate
        XCTAssertTrue(parser.parse(), "SVG is not well-formed XML: \(String(describing: parser.parserError))")
        XCTAssertEqual(delegate.root, "svg")
        // Three panels, each with one polyline per vm.shared_fault value: 6 series lines.
        XCTAssertEqual(delegate.polylines.count, 6)
        XCTAssertEqual(Set(delegate.polylines), ["vm.shared_fault=0", "vm.shared_fault=1"])
        // Axis labels name the swept setting and the counters.
        XCTAssertEqual(delegate.texts.filter { $0 == "vm.prefault_pages" }.count, 3)
        for key in ["trap.page_faults", "prefault.hits", "prefault.unused"] {
            XCTAssertTrue(delegate.texts.contains(key), "no axis label \(key)")
        }
    }
}

/// Collects what the plot test looks at.
final class SVGCollector: NSObject, XMLParserDelegate {
    var root: String?
    var polylines: [String] = []
    var texts: [String] = []
    private var inText = false
    private var current = ""

    func parser(_ parser: XMLParser, didStartElement name: String, namespaceURI: String?,
                qualifiedName: String?, attributes: [String: String] = [:])
    {
        if root == nil { root = name }
        if name == "polyline", let s = attributes["data-series"] { polylines.append(s) }
        if name == "text" {
            inText = true
            current = ""
        }
    }

    func parser(_ parser: XMLParser, foundCharacters string: String) {
        if inText { current += string }
    }

    func parser(_ parser: XMLParser, didEndElement name: String, namespaceURI: String?, qualifiedName: String?) {
        if name == "text" {
            texts.append(current)
            inText = false
        }
    }
}
