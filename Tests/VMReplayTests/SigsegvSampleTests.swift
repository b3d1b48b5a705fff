// The first SIGSEGVs with the event that raised each (issue 17).
import Foundation
import XCTest

extension CLITests {
    func testReportListsTheFirstSigsegvsWithTheirEvents() throws {
        // Scenario 17: events 3 and 4 read two unmapped addresses (SEGV_MAPERR each).
        let maperr = Scenario.directory.appendingPathComponent("17-unmapped-maperr.vmtrace").path
        let (status, text, _) = try run(["replay", maperr])
        XCTAssertEqual(status, 0)
        XCTAssertTrue(text.contains("[sigsegv] (all 2)\n  event 3: pid 1 page 0x20000000 SEGV_MAPERR\n  event 4: pid 1 page 0xf000000 SEGV_MAPERR\n"), text)
        let (_, json, _) = try run(["replay", maperr, "--format", "json"])
        XCTAssertTrue(json.contains("\"sigsegv\": [{\"event\": 3, \"pid\": 1, \"page\": \"0x20000000\", \"code\": \"SEGV_MAPERR\"}"), json)
        // 12 failing reads (events 3..14): the first 10 are listed, and the total.
        let many = tempDir.appendingPathComponent("many.txt").path
        try ("vmtrace 1\nproc 1\nmmap 1 0x10000000 4K r-- private anon\n"
             + (0..<12).map { "w 1 0x\(String(0x1000_0000 + $0 * 8, radix: 16))\n" }.joined())
            .write(toFile: many, atomically: true, encoding: .utf8)
        let (_, manyText, _) = try run(["replay", many])
        // A write to a read-only mapping is KERN_PROTECTION_FAILURE: SEGV_ACCERR.
        XCTAssertTrue(manyText.contains("[sigsegv] (the first 10 of 12)\n  event 3: pid 1 page 0x10000000 SEGV_ACCERR\n"), manyText)
        XCTAssertTrue(manyText.contains("  event 12: pid 1 page 0x10000000 SEGV_ACCERR\n\n"), manyText)
        // A clean replay has no such block.
        XCTAssertFalse(try run(["replay", scenarioA]).1.contains("[sigsegv]"))
    }
}
