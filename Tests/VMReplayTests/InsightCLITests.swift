// The insight options on the command line: --by, --top, --timeline, diff's exit status.
import Foundation
import XCTest

extension CLITests {
    func testByTableInEveryFormatAndTopNeedsBy() throws {
        let trace = TraceRegressionTests.tracesDirectory.appendingPathComponent("ls.vmt.gz").path
        let (status, csv, _) = try run(["replay", trace, "--by", "process", "--format", "csv", "--no-progress"])
        XCTAssertEqual(status, 0)
        // One process: its row holds every trap of the report (98, the README's figure).
        XCTAssertEqual(csv.split(separator: "\n").count, 2, csv)
        XCTAssertTrue(csv.hasPrefix("pid,mappings,trap.page_faults,"), csv)
        XCTAssertTrue(csv.contains(",98,397,"), csv) // 98 traps, 397 v_vm_faults
        let (s2, _, err) = try run(["replay", trace, "--top", "3", "--no-progress"])
        XCTAssertEqual(s2, 64)
        XCTAssertTrue(err.contains("--top needs --by"), err)
        let svg = tempDir.appendingPathComponent("t.svg").path
        let (s3, text, _) = try run(["replay", trace, "--by", "mapping", "--top", "2", "--timeline", svg, "--no-progress"])
        XCTAssertEqual(s3, 0)
        XCTAssertTrue(text.contains("[by mapping]") && text.contains("(") && text.contains("others)"), text)
        XCTAssertTrue(try String(contentsOfFile: svg, encoding: .utf8).hasPrefix("<svg"))
    }

    func testDiffExitsZeroWhenEqualAndOneWhenNot() throws {
        let trace = TraceRegressionTests.tracesDirectory.appendingPathComponent("ls.vmt.gz").path
        let a = tempDir.appendingPathComponent("a.json").path, b = tempDir.appendingPathComponent("b.json").path
        XCTAssertEqual(try run(["replay", trace, "--format", "json", "-o", a, "--no-progress"]).0, 0)
        XCTAssertEqual(try run(["replay", trace, "--format", "json", "-s", "vm.prefault_pages=16", "-o", b, "--no-progress"]).0, 0)
        let same = try run(["diff", a, a])
        XCTAssertEqual(same.0, 0)
        XCTAssertEqual(same.1, "")
        let changed = try run(["diff", a, b])
        XCTAssertEqual(changed.0, 1)
        XCTAssertTrue(changed.1.contains("[traps]"), changed.1)
        XCTAssertEqual(try run(["diff", a, tempDir.appendingPathComponent("missing.json").path]).0, 66)
    }
}
