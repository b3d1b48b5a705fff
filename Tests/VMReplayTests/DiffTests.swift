// `vmreplay diff`: reports, goldens and sweep rows read back; only changed keys are listed.
import Foundation
import VMReplay
import VMTrace
import XCTest

final class DiffTests: XCTestCase {
    var tempDir: URL!

    override func setUpWithError() throws {
        tempDir = FileManager.default.temporaryDirectory.appendingPathComponent("vmreplay-diff-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: tempDir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: tempDir)
    }

    func write(_ text: String, _ name: String) throws -> String {
        let path = tempDir.appendingPathComponent(name).path
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// A report with its --by mapping table, from a replay of ls.
    func lsReport(_ settings: [(String, Int64)] = []) throws -> (Report, AttributionTable) {
        let path = TraceRegressionTests.tracesDirectory.appendingPathComponent("ls.vmt.gz").path
        var recorder: InsightRecorder?
        let report = try ReplayDriver.run(path: path, configuration: ReplayConfiguration(tunables: try Setting.tunables(settings)),
                                          prepare: { recorder = InsightRecorder(replayer: $0, attribute: true, timelineWindows: nil) }).0
        return (report, try XCTUnwrap(try XCTUnwrap(recorder).finish(report: report).attribution[.mapping]))
    }

    func testAReportAgainstItselfAndItsGoldenIsEmpty() throws {
        let (report, table) = try lsReport()
        let a = try write(report.render(.json, with: table), "a.json")
        let side = try DiffSide.load(a)
        XCTAssertEqual(side.rows?.count, table.rows.count)
        let same = ReportDiff(side, try DiffSide.load(a))
        XCTAssertTrue(same.isEmpty)
        XCTAssertEqual(same.render(), "")
        // The golden of the same trace and settings holds the same deterministic keys.
        let golden = TraceRegressionTests.tracesDirectory.appendingPathComponent("expected/ls.json").path
        XCTAssertEqual(ReportDiff(try DiffSide.load(golden), side).changes, [])
    }

    func testChangedKeysAreGroupedWithDeltaAndRelativeChange() throws {
        let a = try write(#"{"vm.prefault_pages": 8, "vm.stats.vm.v_vm_faults": 400, "trap.page_faults": 98, "replay.wall_seconds": 1.5}"#, "a.json")
        let b = try write(#"{"vm.prefault_pages": 8, "vm.stats.vm.v_vm_faults": 410, "trap.page_faults": 98, "replay.wall_seconds": 2.5, "mem.oom_kills": 0}"#, "b.json")
        let diff = ReportDiff(try DiffSide.load(a), try DiffSide.load(b))
        // The wall clock is never compared; the new key counts as a change.
        XCTAssertEqual(diff.comparedKeys, 4)
        XCTAssertEqual(diff.changes.map(\.key), ["vm.stats.vm.v_vm_faults", "mem.oom_kills"])
        let text = diff.render()
        XCTAssertTrue(text.contains("[kernel counters (vm.stats)]\n  vm.stats.vm.v_vm_faults "), text)
        let line = text.split(separator: "\n").first { $0.contains("v_vm_faults") }.map { $0.split(separator: " ").map(String.init) }
        XCTAssertEqual(line, ["vm.stats.vm.v_vm_faults", "400", "410", "+10", "+2.5%"]) // 10 / 400
        XCTAssertTrue(text.contains("[memory]\n  mem.oom_kills"), text)
        XCTAssertTrue(text.contains("(missing)"), text)
    }

    func testSweepRowsAreNamedByNumber() throws {
        let sweep = try write("""
            [
              {"settings": {"vm.prefault_pages": 0}, "report": {"vm.prefault_pages": 0, "trap.page_faults": 120}},
              {"settings": {"vm.prefault_pages": 8}, "report": {"vm.prefault_pages": 8, "trap.page_faults": 98}}
            ]
            """, "sweep.json")
        let diff = ReportDiff(try DiffSide.load(sweep + "#1"), try DiffSide.load(sweep + "#2"))
        XCTAssertEqual(diff.changes, [ReportDiff.Change(key: "vm.prefault_pages", a: .int(0), b: .int(8)),
                                      ReportDiff.Change(key: "trap.page_faults", a: .int(120), b: .int(98))])
        XCTAssertThrowsError(try DiffSide.load(sweep)) { error in
            XCTAssertTrue("\(error)".contains("a sweep of 2 rows"), "\(error)")
        }
        XCTAssertThrowsError(try DiffSide.load(sweep + "#3"))
        XCTAssertThrowsError(try DiffSide.load(try write("{\"a\": [1,", "bad.json"))) { error in
            XCTAssertEqual((error as? TraceError)?.exitCode, 65)
        }
    }

    func testMappingsThatMovedMostComeFirst() throws {
        let (ra, ta) = try lsReport()
        let (rb, tb) = try lsReport([("vm.prefault_pages", 16)])
        let diff = ReportDiff(try DiffSide.load(try write(ra.render(.json, with: ta), "a.json")),
                              try DiffSide.load(try write(rb.render(.json, with: tb), "b.json")))
        let moves = diff.movedRows
        XCTAssertFalse(moves.isEmpty)
        // Sorted by the size of the change in traps.
        let sizes = moves.map { Int64($0.b[.traps]) - Int64($0.a[.traps]) }.map(\.magnitude)
        XCTAssertEqual(sizes, sizes.sorted(by: >))
        // The rows' changes add up to the report's change in traps (98 -> 83 in the README).
        let total = moves.reduce(Int64(0)) { $0 + Int64($1.b[.traps]) - Int64($1.a[.traps]) }
        XCTAssertEqual(total, (rb["trap.page_faults"]?.asInt ?? 0) - (ra["trap.page_faults"]?.asInt ?? 0))
    }
}
