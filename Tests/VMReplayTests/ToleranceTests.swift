// check's tolerances, its delta% column, keys new in the replay, and a missing golden (issue 17).
import Foundation
@testable import VMReplay
import VMTrace
import XCTest

final class ToleranceTests: XCTestCase {
    func testLimitsParseAndAllow() throws {
        let t = try Tolerances(parsing: ["0.5%", "mmu.*=10", "trap.page_faults=0"])
        XCTAssertEqual(t.global, .relative(0.005))
        // 0.5% of 1000 is 5: 1005 passes, 1006 does not.
        XCTAssertEqual(t.limit(for: "vm.stats.vm.v_zfod")?.allows(golden: 1000, actual: 1005), true)
        XCTAssertEqual(t.limit(for: "vm.stats.vm.v_zfod")?.allows(golden: 1000, actual: 1006), false)
        // The glob's limit wins over the global one: 10 units either way.
        XCTAssertEqual(t.limit(for: "mmu.walks"), .absolute(10))
        XCTAssertEqual(t.limit(for: "mmu.walks")?.allows(golden: 344, actual: 334), true)
        XCTAssertEqual(t.limit(for: "mmu.walks")?.allows(golden: 344, actual: 333), false)
        // KEY=0 makes one key exact under a global tolerance.
        XCTAssertEqual(t.limit(for: "trap.page_faults")?.allows(golden: 98, actual: 99), false)
        // A relative limit on a golden of 0 allows only 0.
        XCTAssertEqual(ToleranceLimit.relative(0.5).allows(golden: 0, actual: 1), false)
        XCTAssertEqual(ToleranceLimit.relative(0.005).description, "0.5%")
        XCTAssertEqual(ToleranceLimit.relative(0.02).description, "2%")
        for bad in ["x", "5%%", "-1", "=3", "k=", "k=abc"] {
            XCTAssertThrowsError(try Tolerances(parsing: [bad]), bad)
        }
        XCTAssertThrowsError(try Tolerances(parsing: ["1%", "2%"]))   // two global limits
        XCTAssertEqual(t.unmatchedGlobs(by: ["mmu.walks", "vm.prefault_pages"]), ["trap.page_faults"])
    }

    func testCompareSeparatesToleratedDifferencesAndShowsPercent() throws {
        var report = Report()
        report.set("a", 1000)
        report.set("b", 50)
        report.set("c", 7)
        report.set("new.key", 1)
        var golden = Golden(traceName: "t", checksum: TraceChecksum(crc32: 1, bytes: 2), settings: [],
                            configuration: ReplayConfiguration(), report: report)
        golden.values = [("a", 1004), ("b", 40), ("c", 0)]
        let outcome = GoldenCheck.compare(golden: golden, report: report, actualChecksum: golden.checksum,
                                          tolerances: try Tolerances(parsing: ["1%"]))
        // a: -4 of 1004 is 0.4%, tolerated; b: +10 of 40 is +25%; c: golden 0, no percentage.
        XCTAssertEqual(outcome.tolerated.map(\.key), ["a"])
        XCTAssertEqual(outcome.differences.map(\.key), ["b", "c"])
        XCTAssertEqual(outcome.newKeys, ["new.key"])
        // The differences as `vmreplay diff` shows them; the tolerated ones as a plain table.
        XCTAssertEqual(CheckOutcome.renderTable(outcome.differences), """
            key  golden  actual  delta  delta%
            b        40      50    +10  +25.0%
            c         0       7     +7       -

            """)
        XCTAssertTrue(outcome.renderDifferences().contains("+25.0%"))
    }
}

extension CLITests {
    func testCheckToleranceMissingGoldenAndAnotherTrace() throws {
        let golden = tempDir.appendingPathComponent("g.json").path
        // No golden yet: say how to make one (66, the missing-input code).
        let (missing, _, err) = try run(["check", scenarioA, "--expect", golden])
        XCTAssertEqual(missing, 66)
        XCTAssertTrue(err.contains("run with --update"), err)
        XCTAssertEqual(try run(["check", scenarioA, "--expect", golden, "--update", "-q"]).0, 0)
        // Worked example A with vm.shared_fault=0: v_vm_faults 2 -> 5 (+150%), a difference...
        let (differ, out, _) = try run(["check", scenarioA, "--expect", golden, "-s", "vm.shared_fault=0", "--keys", "vm.stats.vm.v_vm_faults"])
        XCTAssertEqual(differ, 1)
        XCTAssertTrue(out.contains("vm.stats.vm.v_vm_faults       2       5     +3   +150.0%"), out)
        // ...that a tolerance of 3 units (or 150%) lets pass, showing what it let through.
        let (tolerated, okOut, _) = try run(["check", scenarioA, "--expect", golden, "-s", "vm.shared_fault=0",
                                             "--keys", "vm.stats.vm.v_vm_faults", "--tolerance", "vm.stats.vm.*=3"])
        XCTAssertEqual(tolerated, 0)
        XCTAssertTrue(okOut.contains("ok, 1 keys match") && okOut.contains("(1 within --tolerance)"), okOut)
        XCTAssertEqual(try run(["check", scenarioA, "--expect", golden, "-s", "vm.shared_fault=0", "--tolerance", "150%",
                                "--keys", "vm.stats.vm.v_vm_faults"]).0, 0)
        XCTAssertEqual(try run(["check", scenarioA, "--expect", golden, "--tolerance", "nomatch.*=1"]).0, 64)
        // Another trace: refused, unless --ignore-checksum (then only the counters decide).
        let other = tempDir.appendingPathComponent("other.txt").path
        try (String(contentsOfFile: scenarioA, encoding: .utf8) + "# a comment changes the checksum\n")
            .write(toFile: other, atomically: true, encoding: .utf8)
        XCTAssertEqual(try run(["check", other, "--expect", golden]).0, 1)
        XCTAssertEqual(try run(["check", other, "--expect", golden, "--ignore-checksum"]).0, 0)
    }
}
