// replay --skip / --warmup / --window (issue 17): counts per window and after a warmup.
import Foundation
import XCTest

extension CLITests {
    /// Four writes to four untouched anonymous pages: with the default shared faults each is
    /// one trap, one zero-fill (vm_prefault_quick finds no resident neighbour; worked example A).
    func fourWrites() throws -> String {
        let path = tempDir.appendingPathComponent("four.txt").path
        try """
            vmtrace 1
            proc 1
            mmap 1 0x10000000 64K rw- private anon
            w 1 0x10000000
            w 1 0x10001000
            w 1 0x10002000
            w 1 0x10003000

            """.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    func testWindowsSplitTheCounts() throws {
        let (status, out, _) = try run(["replay", try fourWrites(), "--window", "3", "--format", "csv"])
        XCTAssertEqual(status, 0)
        let rows = out.split(separator: "\n").map { $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init) }
        XCTAssertEqual(rows.count, 3)   // header, accesses 1-3, access 4 (the last, short window)
        let traps = try XCTUnwrap(rows[0].firstIndex(of: "traps")), zfod = try XCTUnwrap(rows[0].firstIndex(of: "v_zfod"))
        XCTAssertEqual(rows[1][1], "3"); XCTAssertEqual(rows[1][traps], "3"); XCTAssertEqual(rows[1][zfod], "3")
        XCTAssertEqual(rows[2][1], "4"); XCTAssertEqual(rows[2][traps], "1"); XCTAssertEqual(rows[2][zfod], "1")
        XCTAssertEqual(try run(["replay", try fourWrites(), "--window", "0"]).0, 64)
        XCTAssertEqual(try run(["replay", try fourWrites(), "--window", "2", "--format", "json"]).0, 64)
    }

    func testSkipAndWarmup() throws {
        // The first write is dropped, the second simulated but not counted: the report counts
        // the last two, one trap and one zero-fill each, and the levels as they end (3 pages
        // mapped: the skipped page was never touched).
        let (status, out, _) = try run(["replay", try fourWrites(), "--skip", "1", "--warmup", "1", "--format", "sysctl"])
        XCTAssertEqual(status, 0)
        for line in ["trap.page_faults: 2", "vm.stats.vm.v_zfod: 2", "replay.accesses: 2", "replay.skipped_accesses: 1",
                     "replay.warmup_accesses: 1", "mem.mapped_pages: 3", "vm.prefault_pages: 8"] {
            XCTAssertTrue(out.contains("\n" + line + "\n"), "\(line) in\n\(out)")
        }
    }
}
