// proc.PID.comm and check --ignore-checksum matching processes by name (issue 17).
import Foundation
import XCTest

extension CLITests {
    func program(pid: Int, name: String) throws -> String {
        let path = tempDir.appendingPathComponent("\(name)-\(pid).txt").path
        try """
            vmtrace 1
            file 1 8192 resident /usr/bin/sh
            file 2 8192 resident /usr/bin/\(name)
            proc \(pid)
            mmap \(pid) 0x400000 8K r-x private file=1
            x \(pid) 0x400000
            fork \(pid) \(pid + 1)
            exec \(pid + 1)
            mmap \(pid + 1) 0x400000 8K r-x private file=2
            x \(pid + 1) 0x400000
            exit \(pid + 1)

            """.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    func testProcessNamesComeFromTheFirstFileMappedAfterProcOrExec() throws {
        let (status, out, _) = try run(["replay", try program(pid: 100, name: "ls"), "--format", "sysctl", "--keys", "proc.*"])
        XCTAssertEqual(status, 0)
        // The child was sh (inherited at fork) until its exec mapped ls.
        XCTAssertTrue(out.contains("proc.100.comm: sh\n") && out.contains("proc.101.comm: ls\n"), out)
        let (_, json, _) = try run(["replay", try program(pid: 100, name: "ls"), "--format", "json"])
        XCTAssertTrue(json.contains("\"proc.101.comm\": \"ls\""), json)
    }

    func testIgnoreChecksumMatchesProcessesByCommandName() throws {
        let golden = tempDir.appendingPathComponent("first.json").path
        XCTAssertEqual(try run(["check", try program(pid: 100, name: "ls"), "--expect", golden, "--update", "-q"]).0, 0)
        let again = try program(pid: 500, name: "ls")   // the same program recorded again: other pids
        XCTAssertEqual(try run(["check", again, "--expect", golden]).0, 1)
        let (status, out, _) = try run(["check", again, "--expect", golden, "--ignore-checksum"])
        XCTAssertEqual(status, 0, out)
        // Another program in the child: its per-process keys do not pair up with ls's.
        let (other, diff, _) = try run(["check", try program(pid: 500, name: "cat"), "--expect", golden, "--ignore-checksum"])
        XCTAssertEqual(other, 1)
        XCTAssertTrue(diff.contains("proc.ls#1.ru_minflt") && diff.contains("(missing)"), diff)
    }
}
