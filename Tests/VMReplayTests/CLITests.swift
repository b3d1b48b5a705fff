// The command line's contract (SPEC §2): exit codes, error messages, the report formats.
import Foundation
import XCTest

final class CLITests: XCTestCase {
    var tempDir: URL!

    override func setUpWithError() throws {
        tempDir = FileManager.default.temporaryDirectory.appendingPathComponent("vmreplay-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: tempDir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: tempDir)
    }

    func binary() throws -> URL {
        let candidates = [
            URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("vmreplay"),
            Bundle.main.bundleURL.appendingPathComponent("vmreplay"),
        ]
        guard let found = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0.path) }) else {
            throw XCTSkip("vmreplay executable not found next to the test bundle")
        }
        return found
    }

    /// Runs vmreplay; returns (status, stdout, stderr).
    func run(_ args: [String]) throws -> (Int32, String, String) {
        let p = Process()
        p.executableURL = try binary()
        p.arguments = args
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        let o = out.fileHandleForReading.readDataToEndOfFile()
        let e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: o, as: UTF8.self), String(decoding: e, as: UTF8.self))
    }

    var scenarioA: String { Scenario.directory.appendingPathComponent("01-anon-two-writes.vmtrace").path }

    func testReplayFormats() throws {
        let (status, sysctl, _) = try run(["replay", scenarioA, "--format", "sysctl"])
        XCTAssertEqual(status, 0)
        XCTAssertTrue(sysctl.contains("\nvm.stats.vm.v_vm_faults: 2\n")) // worked example A
        XCTAssertTrue(sysctl.contains("\nrusage.ru_minflt: 4\n"))
        let (_, json, _) = try run(["replay", scenarioA, "--format", "json"])
        let object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
        XCTAssertEqual((object["trap.page_faults"] as? NSNumber)?.intValue, 2)
        XCTAssertEqual((object["vm.prefault_pages"] as? NSNumber)?.intValue, 8) // tunables echoed
        let (_, csv, _) = try run(["replay", scenarioA, "--format", "csv"])
        let rows = csv.split(separator: "\n")
        XCTAssertEqual(rows.count, 2)
        let header = rows[0].split(separator: ",", omittingEmptySubsequences: false)
        let values = rows[1].split(separator: ",", omittingEmptySubsequences: false)
        XCTAssertEqual(header.count, values.count)
        XCTAssertEqual(values[header.firstIndex(of: "vm.stats.vm.v_zfod")!], "2")
        // -s applies like sysctl -w: worked example A'.
        let (_, exclusive, _) = try run(["replay", scenarioA, "--format", "sysctl", "-s", "vm.shared_fault=0"])
        XCTAssertTrue(exclusive.contains("\nvm.stats.vm.v_vm_faults: 5\n"))
        // -o writes the report to a file.
        let out = tempDir.appendingPathComponent("r.json").path
        XCTAssertEqual(try run(["replay", scenarioA, "--format", "json", "-o", out]).0, 0)
        XCTAssertTrue(FileManager.default.fileExists(atPath: out))
    }

    func testUsageErrorsExit64AndListTheKnownNames() throws {
        let (status, _, err) = try run(["replay", scenarioA, "-s", "vm.prefault_page=4"])
        XCTAssertEqual(status, 64)
        XCTAssertTrue(err.contains("unknown sysctl 'vm.prefault_page'"), err)
        XCTAssertTrue(err.contains("vm.prefault_pages"), "the message lists the known names: \(err)")
        let (range, _, rangeErr) = try run(["replay", scenarioA, "-s", "vm.shared_fault=7"])
        XCTAssertEqual(range, 64)
        XCTAssertTrue(rangeErr.contains("out of range"), rangeErr)
        XCTAssertEqual(try run(["replay", scenarioA, "-s", "vm.prefault_pages=1,2"]).0, 64) // one value only
        XCTAssertEqual(try run(["sweep", scenarioA]).0, 64) // a sweep needs a setting
        XCTAssertEqual(try run(["replay"]).0, 64)
        XCTAssertEqual(try run(["sysctl", "vm.no_such"]).0, 64)
    }

    func testBadInputsExitWithSysexitsCodes() throws {
        let missing = tempDir.appendingPathComponent("missing.txt").path
        let (status, _, err) = try run(["replay", missing])
        XCTAssertEqual(status, 66)
        XCTAssertTrue(err.hasPrefix("vmreplay: \(missing)"), err)
        let bad = tempDir.appendingPathComponent("bad.txt")
        try "vmtrace 1\nproc 1\nmmap 1 0x1000 4K rw- private anon\nw 2 0x1000\n".write(to: bad, atomically: true, encoding: .utf8)
        let (badStatus, _, badErr) = try run(["replay", bad.path])
        XCTAssertEqual(badStatus, 65)
        XCTAssertTrue(badErr.hasPrefix("vmreplay: \(bad.path):4: "), badErr) // names the line
        // --keep-going skips the bad line and says so.
        let (kept, report, keptErr) = try run(["replay", bad.path, "--keep-going", "--format", "sysctl"])
        XCTAssertEqual(kept, 0)
        XCTAssertTrue(report.contains("replay.skipped_events: 1"), report)
        XCTAssertTrue(keptErr.contains("skipped 1 bad event"), keptErr)
        // An output that cannot be created: 73, and the path in the message.
        let (cannot, _, cannotErr) = try run(["replay", scenarioA, "-o", "/nonexistent-dir/r.txt"])
        XCTAssertEqual(cannot, 73)
        XCTAssertTrue(cannotErr.contains("/nonexistent-dir/r.txt"), cannotErr)
    }

    func testSysctlListsEveryTunableWithDefaults() throws {
        let (status, out, _) = try run(["sysctl", "-a"])
        XCTAssertEqual(status, 0)
        for line in ["vm.prefault_pages: 8", "vm.fast_fault: 1", "vm.shared_fault: 1", "vm.virtual_copy_enable: 1",
                     "vm.debug_fault: 0", "vm.debug_cluster: 0", "machdep.pmap_nx_enable: 0"] {
            XCTAssertTrue(out.contains(line + "\n"), "missing \(line)")
        }
        let (_, described, _) = try run(["sysctl", "-d", "vm.prefault_pages"])
        XCTAssertTrue(described.contains("Maximum number of pages to pre-fault"), described)
    }

    func testCheckExitCodes() throws {
        let golden = tempDir.appendingPathComponent("a.json").path
        XCTAssertEqual(try run(["check", scenarioA, "--expect", golden, "--update"]).0, 0)
        XCTAssertEqual(try run(["check", scenarioA, "--expect", golden]).0, 0)
        // Other settings change counters: exit 1 with the differing keys.
        let (status, out, _) = try run(["check", scenarioA, "--expect", golden, "-s", "vm.shared_fault=0"])
        XCTAssertEqual(status, 1)
        XCTAssertTrue(out.contains("vm.stats.vm.v_vm_faults"), out)
        XCTAssertEqual(try run(["check", scenarioA, "--expect", tempDir.appendingPathComponent("none.json").path]).0, 66)
        let garbage = tempDir.appendingPathComponent("garbage.json")
        try "not json".write(to: garbage, atomically: true, encoding: .utf8)
        XCTAssertEqual(try run(["check", scenarioA, "--expect", garbage.path]).0, 65)
    }
}
