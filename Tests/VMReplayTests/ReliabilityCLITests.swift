// Issue 16 (reliability, round two) at the command line: goldens checked like the command
// line, output that cannot overwrite the input, write failures, bad settings, temp files.
import Foundation
import XCTest

extension CLITests {
    /// A golden made by --update on scenario A, with `edit` applied to its text.
    func editedGolden(_ name: String, _ edit: (String) -> String) throws -> String {
        let path = tempDir.appendingPathComponent(name).path
        XCTAssertEqual(try run(["check", scenarioA, "--expect", path, "--update", "-q"]).0, 0)
        let text = try String(contentsOfFile: path, encoding: .utf8)
        try edit(text).write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    func testGoldenSettingsAreCheckedLikeTheCommandLine() throws {
        func replacing(_ pattern: String, _ with: String) -> (String) -> String {
            { $0.replacingOccurrences(of: pattern, with: with, options: .regularExpression) }
        }
        let cases: [(String, (String) -> String, String)] = [
            // --phys-mem refuses less than 4M; so does a golden (4096 crashed check before).
            ("tiny", replacing(#""phys_mem": \d+"#, #""phys_mem": 4096"#), "below 4M"),
            // -1 was read as 2^64-1 and 2^64 as 0; neither is a byte count.
            ("negative", replacing(#""phys_mem": \d+"#, #""phys_mem": -1"#), "not a byte count"),
            ("wrapped", replacing(#""phys_mem": \d+"#, #""phys_mem": 18446744073709551616"#), "not a byte count"),
            ("fraction", replacing(#""swap": \d+"#, #""swap": 1.5"#), "not a byte count"),
            // Settings: out of range and unknown, as -s would say (exit 64 there, 65 here: the
            // golden is an input file).
            ("range", replacing(#""settings": \{\}"#, #""settings": {"vm.shared_fault": 7}"#), "out of range"),
            ("unknown", replacing(#""settings": \{\}"#, #""settings": {"vm.no_such": 1}"#), "unknown sysctl"),
            ("boolean", replacing(#""settings": \{\}"#, #""settings": {"vm.shared_fault": true}"#), "not an integer"),
            // A machine setting below what -s accepts (the fuzz target `check` found it passing).
            ("machine", replacing(#""settings": \{\}"#, #""settings": {"vmreplay.phys_mem": 16}"#), "at least 4194304 bytes"),
        ]
        for (name, edit, message) in cases {
            let golden = try editedGolden("\(name).json", edit)
            let (status, _, err) = try run(["check", scenarioA, "--expect", golden])
            XCTAssertEqual(status, 65, name)
            XCTAssertTrue(err.contains(golden) && err.contains(message), "\(name): \(err)")
        }
    }
}

extension CLITests {
    /// Runs vmreplay through sh with `redirect` applied to its standard output.
    func runRedirected(_ args: [String], _ redirect: String) throws -> (Int32, String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/sh")
        p.arguments = ["-c", "exec \"$0\" \"$@\" \(redirect)", try binary().path] + args
        let err = Pipe()
        p.standardError = err
        try p.run()
        let e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: e, as: UTF8.self))
    }

    func testEveryStandardOutputWriteFailureExits74() throws {
        let golden = tempDir.appendingPathComponent("a.json").path
        XCTAssertEqual(try run(["check", scenarioA, "--expect", golden, "--update", "-q"]).0, 0)
        let commands: [[String]] = [
            ["replay", scenarioA], ["replay", scenarioA, "--decode-only"], ["info", scenarioA],
            ["sweep", scenarioA, "-s", "vm.prefault_pages=0,8"], ["sysctl", "-a"],
            ["check", scenarioA, "--expect", golden],
        ]
        for args in commands {
            // A full device, and a closed descriptor; both exited 0 with the output lost.
            for redirect in [">/dev/full", ">&-"] {
                let (status, err) = try runRedirected(args, redirect)
                XCTAssertEqual(status, 74, "\(args) \(redirect): \(err)")
                XCTAssertTrue(err.contains("vmreplay: <stdout>: write error"), "\(args) \(redirect): \(err)")
            }
        }
    }
}

extension CLITests {
    func testNoOutputOverwritesTheInput() throws {
        let trace = tempDir.appendingPathComponent("a.vmtrace").path
        try FileManager.default.copyItem(atPath: scenarioA, toPath: trace)
        let original = try Data(contentsOf: URL(fileURLWithPath: trace))
        let symbolic = tempDir.appendingPathComponent("sym.vmtrace").path
        try FileManager.default.createSymbolicLink(atPath: symbolic, withDestinationPath: trace)
        let hard = tempDir.appendingPathComponent("hard.vmtrace").path
        try FileManager.default.linkItem(atPath: trace, toPath: hard)
        for target in [trace, symbolic, hard] {
            let commands: [[String]] = [
                ["replay", trace, "-o", target],
                ["sweep", trace, "-s", "vm.prefault_pages=0,8", "-o", target],
                ["sweep", trace, "-s", "vm.prefault_pages=0,8", "--plot", target],
                ["check", trace, "--expect", target, "--update"],
            ]
            for args in commands {
                // These destroyed the trace and exited 0; convert and import already refused.
                let (status, _, err) = try run(args)
                XCTAssertEqual(status, 64, "\(args): \(err)")
                XCTAssertTrue(err.contains("refusing to overwrite"), "\(args): \(err)")
                XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: trace)), original, "\(args)")
            }
        }
        // Two outputs of one sweep on one file: the report would replace the plot.
        let out = tempDir.appendingPathComponent("out").path
        XCTAssertEqual(try run(["sweep", trace, "-s", "vm.prefault_pages=0,8", "--plot", out, "-o", out]).0, 64)
    }
}

extension CLITests {
    func testEveryBadSettingExits64() throws {
        let golden = tempDir.appendingPathComponent("a.json").path
        XCTAssertEqual(try run(["check", scenarioA, "--expect", golden, "--update", "-q"]).0, 0)
        // In range on its own, but 3 entries in 4 ways make no TLB: this exited 1, which in
        // check means "the counters differ".
        let commands: [[String]] = [
            ["replay", scenarioA, "-s", "vmreplay.tlb.dtlb_entries=3"],
            ["sweep", scenarioA, "-s", "vmreplay.tlb.dtlb_entries=3,4"],
            ["sweep", scenarioA, "-s", "vmreplay.tlb.stlb_ways=1,5"],
            ["check", scenarioA, "--expect", golden, "-s", "vmreplay.tlb.itlb_entries=12"],
            ["check", scenarioA, "--expect", golden, "-s", "vmreplay.tlb.dtlb_entries=3", "--update"],
            // A range is counted before it is built (this one took 1.6 GB, then SIGABRT).
            ["sweep", scenarioA, "-s", "vm.prefault_pages=0..2147483647"],
            ["sweep", scenarioA, "-s", "vm.prefault_pages=-9223372036854775808..9223372036854775807"],
            // The limit holds for a whole list, not only for each range in it.
            ["sweep", scenarioA, "-s", "vm.prefault_pages=" + Array(repeating: "0..9999", count: 3).joined(separator: ",")],
            // The product of counts is checked without overflowing (10^20 combinations).
            ["sweep", scenarioA] + Array(repeating: ["-s", "vm.prefault_pages=0..9999"], count: 5).joined(),
        ]
        for args in commands {
            let (status, _, err) = try run(args)
            XCTAssertEqual(status, 64, "\(args): \(err)")
            XCTAssertTrue(err.hasPrefix("vmreplay: "), "\(args): \(err)")
        }
    }
}

extension CLITests {
    func testSmallThings() throws {
        // An unknown 900 KB token is cut in the message (it was echoed whole).
        let huge = tempDir.appendingPathComponent("huge.vmtrace").path
        try ("vmtrace 1\n" + String(repeating: "z", count: 900_000) + " 1\n").write(toFile: huge, atomically: true, encoding: .utf8)
        let (status, _, err) = try run(["info", huge])
        XCTAssertEqual(status, 65)
        XCTAssertTrue(err.contains("huge.vmtrace:2: unknown event 'zzz"), err)
        XCTAssertLessThan(err.utf8.count, 400, "the message is cut")

        // Invalid UTF-8 in a file path is refused in text as in binary (it became U+FFFD).
        let latin1 = tempDir.appendingPathComponent("latin1.vmtrace")
        try Data("vmtrace 1\nfile 1 4K /tmp/caf".utf8 + [0xE9] + Data("\n".utf8)).write(to: latin1)
        let (textStatus, _, textErr) = try run(["info", latin1.path])
        XCTAssertEqual(textStatus, 65)
        XCTAssertTrue(textErr.contains("latin1.vmtrace:2: file path is not valid UTF-8"), textErr)

        // An overwritten output keeps its mode (0600 came back 0644).
        let report = tempDir.appendingPathComponent("private.txt").path
        FileManager.default.createFile(atPath: report, contents: Data(), attributes: [.posixPermissions: 0o600])
        XCTAssertEqual(try run(["replay", scenarioA, "-o", report]).0, 0)
        let mode = try FileManager.default.attributesOfItem(atPath: report)[.posixPermissions] as? NSNumber
        XCTAssertEqual(mode?.intValue, 0o600)

        // check --update replaces a corrupt golden (it refused to).
        let golden = tempDir.appendingPathComponent("corrupt.json").path
        try "{\"vmreplay_golden\": 1, \"trace\": ".write(toFile: golden, atomically: true, encoding: .utf8)
        XCTAssertEqual(try run(["check", scenarioA, "--expect", golden]).0, 65)
        XCTAssertEqual(try run(["check", scenarioA, "--expect", golden, "--update", "-q"]).0, 0)
        XCTAssertEqual(try run(["check", scenarioA, "--expect", golden, "-q"]).0, 0)
    }
}

extension CLITests {
    /// --keep-going skips an event the kernel refuses and counts it (it stopped the replay).
    func testKeepGoingSkipsAnEventTheKernelRefuses() throws {
        let trace = tempDir.appendingPathComponent("refused.vmtrace").path
        // An 8M resident file does not fit in 4M of RAM: the kernel refuses the declaration.
        try "vmtrace 1\nfile 1 8M resident\nproc 1\nmmap 1 0x10000000 4K rw- private anon\nw 1 0x10000000\n"
            .write(toFile: trace, atomically: true, encoding: .utf8)
        XCTAssertEqual(try run(["replay", trace, "--phys-mem", "4M"]).0, 65)
        let (status, out, err) = try run(["replay", trace, "--phys-mem", "4M", "--keep-going", "--format", "sysctl"])
        XCTAssertEqual(status, 0, err)
        XCTAssertTrue(err.contains("cannot be all resident") && err.contains("(skipped)"), err)
        XCTAssertTrue(err.contains("skipped 1 bad event"), err)
        XCTAssertTrue(out.contains("\nreplay.skipped_events: 1\n"), out) // the file line
        XCTAssertTrue(out.contains("\ntrap.page_faults: 1\n"), out) // the write still runs
    }
}
