// Recordings with a lost log (issue 12 §6) and relative paths (issue 17 item 6).

import Foundation
import XCTest
@testable import VMTrace
@testable import VMTraceLackey

extension LackeyImportTests {
    /// A startup layout block of `pid` whose one client segment is `program`'s code.
    func layoutBlock(_ pid: UInt32, _ program: String, codeEnd: String) -> String {
        """
        --\(pid):1: aspacem <<< SHOW_SEGMENTS: Memory layout at client startup (2 segments)
        --\(pid):1: aspacem (1,49,7) \(program)
        --\(pid):1: aspacem   1: file 0000108000-\(codeEnd) 8192 r-x-- d=0xfe00 i=254734  o=0       (1,49)
        --\(pid):1: aspacem >>>\n
        """
    }

    func testLostExecLogSkipsTheLostProgramsLayout() throws {
        // A forked child runs a `#!/usr/bin/env bash` script: Valgrind runs env, which execs
        // bash. Both exec'd programs print a layout; only bash's log survives (env's was
        // reopened and truncated). Bash must start from its own layout, not env's.
        let logs = forkLogs(childTail: "SYSCALL[101,1](59) sys_execve ( 0x4035d38(/x/s.sh), 0x129958, 0x4035bf8 )")
            + [("lk.101.x000002.log", banner(101, command: "/usr/bin/bash /x/s.sh", parent: 100)
                    + "I  0010a000,4\n" + footer(101))]
        let layout = layoutBlock(101, "/nonexistent/env", codeEnd: "0000109fff")
            + layoutBlock(101, "/nonexistent/bash", codeEnd: "000010bfff")
        let (events, summary) = try importLogs(logs, layouts: [layout])
        XCTAssertEqual(Array(events[4...]), [
            access(.write, 101, 0x1000_0008, 8),
            .exec(pid: 101),
            // bash's layout: 16 KiB of code from 0x108000 (env's was 8 KiB), so the fetch at
            // 0x10a000 needs no inferred mapping. The file is gone: its size is the extent.
            .file(id: 1, size: 16384, resident: false, path: "/nonexistent/bash"),
            mmap(101, 0x108000, 16384, "r-x", file: 1),
            access(.execute, 101, 0x10a000, 4),
            .exit(pid: 101),
            access(.read, 100, 0x1000_0000, 8),
            .exit(pid: 100),
        ])
        XCTAssertEqual(summary.missingProgramLogs, ["/x/s.sh"])
        XCTAssertEqual(summary.skippedLayouts, 1)   // env's
        XCTAssertEqual(summary.layoutsUsed, 1)
        XCTAssertEqual(summary.inferredAccesses, 0)
    }

    func testLostLogLayoutIsFoundThroughASymlink() throws {
        // Debian's /usr/bin/sh is a link to dash: the Command: line says sh, the layout dash.
        let dash = scratch.write("dash", "")
        let sh = URL(fileURLWithPath: dash).deletingLastPathComponent().appendingPathComponent("sh").path
        try FileManager.default.createSymbolicLink(atPath: sh, withDestinationPath: dash)
        let logs = forkLogs(childTail: "SYSCALL[101,1](59) sys_execve ( 0x4035d38(/x/s.sh), 0x129958, 0x4035bf8 )")
            + [("lk.101.x000002.log", banner(101, command: "\(sh) /x/s.sh", parent: 100) + "I  0010a000,4\n" + footer(101))]
        let layout = layoutBlock(101, "/nonexistent/env", codeEnd: "0000109fff") + layoutBlock(101, dash, codeEnd: "000010bfff")
        let (_, summary) = try importLogs(logs, layouts: [layout])
        XCTAssertEqual(summary.skippedLayouts, 1)   // env's
        XCTAssertEqual(summary.inferredAccesses, 0)
    }

    func testCompleteExecChainIsNotPartial() throws {
        // The same child with both logs kept (scripts/record.sh renames each exec's log as it
        // appears): env's log (Valgrind names the script as its command), then bash's, in the
        // order their names sort.
        let logs = forkLogs(childTail: "SYSCALL[101,1](59) sys_execve ( 0x4035d38(/x/s.sh), 0x129958, 0x4035bf8 )")
            + [("lk.101.x000001.log", banner(101, command: "/x/s.sh", parent: 100)
                    + "SYSCALL[101,1](59) sys_execve ( 0x4035d38(/usr/bin/bash), 0x129958, 0x4035bf8 )"),
               ("lk.101.x000002.log", banner(101, command: "/usr/bin/bash /x/s.sh", parent: 100)
                    + "I  0010a000,4\n" + footer(101))]
        let layout = layoutBlock(101, "/nonexistent/env", codeEnd: "0000109fff")
            + layoutBlock(101, "/nonexistent/bash", codeEnd: "000010bfff")
        let (events, summary) = try importLogs(logs, layouts: [layout])
        XCTAssertEqual(events.filter { if case .exec = $0 { return true } else { return false } }.count, 2)
        XCTAssertTrue(summary.missingProgramLogs.isEmpty, "\(summary.missingProgramLogs)")
        XCTAssertEqual(summary.layoutsUsed, 2)
        XCTAssertEqual(summary.inferredAccesses, 0)
    }

    func testRelativePathsBecomeAbsoluteAgainstTheStartDirectory() throws {
        let log = banner(100) + """
            SYSCALL[100,1](257) sys_openat ( 4294967196, 0x4034bb0(data.bin), 0 )[sync] --> Success(0x3) 
            SYSCALL[100,1](9) sys_mmap ( 0x0, 4096, 1, 2, 3, 0 ) --> [pre-success] Success(0x20000000) 
            SYSCALL[100,1](80) sys_chdir ( 0x4034bb0(sub) )[sync] --> Success(0x0) 
            SYSCALL[100,1](2) sys_open ( 0x4034bb0(../other.bin), 0 )[sync] --> Success(0x4) 
            SYSCALL[100,1](9) sys_mmap ( 0x0, 4096, 1, 2, 4, 0 ) --> [pre-success] Success(0x20001000) \n
            """ + footer(100)
        var options = LackeyImportOptions()
        options.startDirectory = "/nonexistent/work"
        let importer = LackeyImporter(logs: [scratch.write("lk.100.1.log", log)], options: options)
        let paths = try importer.events().compactMap { e -> String? in
            if case .file(_, _, _, let path) = e { return path.string }
            return nil
        }
        // Joined, not normalised: the kernel resolves `..` the same way.
        XCTAssertEqual(paths, ["/nonexistent/work/data.bin", "/nonexistent/work/sub/../other.bin"])
    }
}
