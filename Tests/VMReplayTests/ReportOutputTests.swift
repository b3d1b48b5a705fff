// replay --keys and the JSON report's header (issue 17), and a report used as a golden.
import Foundation
import XCTest

extension CLITests {
    func testReplayKeysSelectsLikeSysctlN() throws {
        let (status, out, _) = try run(["replay", scenarioA, "--format", "sysctl", "--keys", "trap.page_faults", "--keys", "vm.stats.vm.v_zfod"])
        XCTAssertEqual(status, 0)
        // Worked example A: 2 traps, 2 zero-fill; report order, nothing else.
        XCTAssertEqual(out, "vm.stats.vm.v_zfod: 2\ntrap.page_faults: 2\n")
        let (bad, _, err) = try run(["replay", scenarioA, "--keys", "trap.page_fault"])
        XCTAssertEqual(bad, 64)
        XCTAssertTrue(err.contains("matches no report key"), err)
    }

    func testJSONReportHasAHeaderAndServesAsAGolden() throws {
        let report = tempDir.appendingPathComponent("r.json").path
        XCTAssertEqual(try run(["replay", scenarioA, "--format", "json", "-s", "vm.shared_fault=0", "-o", report]).0, 0)
        let object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: report))) as? [String: Any])
        let header = try XCTUnwrap(object["vmreplay"] as? [String: Any])
        XCTAssertNotNil(header["version"] as? String)
        XCTAssertEqual((header["trace"] as? [String: Any])?["name"] as? String, "01-anon-two-writes.vmtrace")
        XCTAssertEqual((header["settings"] as? [String: Any])?["vm.shared_fault"] as? Int, 0)
        // The keys stay top-level (SPEC §3): with exclusive faults 5 v_vm_faults (README example).
        XCTAssertEqual((object["vm.stats.vm.v_vm_faults"] as? NSNumber)?.intValue, 5)
        // check replays with the header's settings: the report is its own golden.
        let (status, out, _) = try run(["check", scenarioA, "--expect", report])
        XCTAssertEqual(status, 0, out)
        XCTAssertTrue(out.contains(": ok, ") && out.contains(" keys match "), out)
    }
}
