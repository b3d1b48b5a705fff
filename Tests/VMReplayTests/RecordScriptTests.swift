// scripts/record.sh end to end with Valgrind (skipped where Valgrind is not installed): a forked
// child that runs a `#!/usr/bin/env sh` script execs twice; every log is kept, and a recording
// that lost one exits 65 unless --accept-partial (issue 12 §6, issue 17 item 4).
import Foundation
import XCTest

extension CLITests {
    /// Runs record.sh on `sh -c 'x=$(SCRIPT)'`; returns its status, stderr and the trace.
    func record(environment extra: [String: String] = [:], options: [String] = []) throws -> (Int32, String, String) {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/valgrind") else { throw XCTSkip("valgrind is not installed") }
        let script = tempDir.appendingPathComponent("hello.sh").path
        try "#!/usr/bin/env sh\necho hello\n".write(toFile: script, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: script)
        let trace = tempDir.appendingPathComponent("rec-\(UUID().uuidString).vmt.gz").path
        let p = Process()
        p.executableURL = Self.repository.appendingPathComponent("scripts/record.sh")
        p.arguments = options + ["-o", trace, "--", "sh", "-c", "x=$(\(script)); echo \"$x\""]
        p.environment = ProcessInfo.processInfo.environment.merging(["VMREPLAY": try binary().path], uniquingKeysWith: { $1 })
            .merging(extra, uniquingKeysWith: { $1 })
        let err = Pipe()
        p.standardError = err
        p.standardOutput = FileHandle.nullDevice
        try p.run()
        let e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: e, as: UTF8.self), trace)
    }

    func testRecordingAShebangScriptKeepsEveryLog() throws {
        let (status, err, trace) = try record()
        XCTAssertEqual(status, 0, err)
        XCTAssertFalse(err.contains("partial recording"), err)
        // The child's two programs (env, then sh) are both there, and nothing faults.
        let (_, text, _) = try run(["convert", trace, "-"])
        XCTAssertEqual(text.split(separator: "\n").filter { $0.hasPrefix("exec ") }.count, 2)
        let (_, report, _) = try run(["replay", trace, "--format", "sysctl", "--keys", "trap.sigsegv"])
        XCTAssertEqual(report, "trap.sigsegv: 0\n")
    }

    func testALostLogMakesRecordExit65UnlessAccepted() throws {
        // Without the watcher the child's sh reopens and truncates env's log.
        let (status, err, trace) = try record(environment: ["VMRECORD_NO_RENAME": "1"])
        XCTAssertEqual(status, 65, err)
        XCTAssertTrue(err.contains("vmreplay: warning: partial recording") && err.contains("--accept-partial"), err)
        XCTAssertTrue(FileManager.default.fileExists(atPath: trace))   // written all the same
        // sh started in its own layout, not env's: still no SIGSEGV.
        XCTAssertEqual(try run(["replay", trace, "--format", "sysctl", "--keys", "trap.sigsegv"]).1, "trap.sigsegv: 0\n")
        let (accepted, acceptedErr, _) = try record(environment: ["VMRECORD_NO_RENAME": "1"], options: ["--accept-partial"])
        XCTAssertEqual(accepted, 0, acceptedErr)
    }
}
