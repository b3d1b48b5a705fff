// Issue 17, "wrong or silent": command lines that used to pass quietly and now stop with 64.
import Foundation
import XCTest

extension CLITests {
    func testSettingNamedTwiceIsAUsageError() throws {
        // Before: exit 0, rows labelled 0 and 8 that both ran with 32.
        let (status, out, err) = try run(["sweep", scenarioA, "-s", "vm.prefault_pages=0,8", "-s", "vm.prefault_pages=32"])
        XCTAssertEqual(status, 64)
        XCTAssertEqual(out, "")
        XCTAssertTrue(err.hasPrefix("vmreplay: ") && err.contains("vm.prefault_pages") && err.contains("twice"), err)
        let (replayStatus, _, _) = try run(["replay", scenarioA, "-s", "vm.fast_fault=0", "-s", "vm.fast_fault=1"])
        XCTAssertEqual(replayStatus, 64)
    }

    func testCheckKeysGlobThatMatchesNothingIsAUsageError() throws {
        let golden = tempDir.appendingPathComponent("a.json").path
        XCTAssertEqual(try run(["check", scenarioA, "--expect", golden, "--update", "-q"]).0, 0)
        // A typo would turn the CI job into a no-op ("ok, 0 keys match").
        let (status, out, err) = try run(["check", scenarioA, "--expect", golden, "--keys", "prefault.*", "--keys", "nomatch.*"])
        XCTAssertEqual(status, 64)
        XCTAssertEqual(out, "")
        XCTAssertTrue(err.contains("--keys 'nomatch.*' matches no key"), err)
        // Both globs match something: the check runs (and passes).
        XCTAssertEqual(try run(["check", scenarioA, "--expect", golden, "--keys", "prefault.*", "--keys", "trap.page_faults"]).0, 0)
    }
}
