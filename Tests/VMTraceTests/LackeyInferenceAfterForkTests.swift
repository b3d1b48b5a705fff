// Inferred mappings for pages a program touches only after one of its children ran (issue 17
// item 3: `tar czf` without --layout replayed with 43 SIGSEGV in tar's own code).

import XCTest
@testable import VMTrace
@testable import VMTraceLackey

extension LackeyImportTests {
    func testPagesTouchedAfterAForkAreInferredForTheParent() throws {
        // The parent runs code at 0x401000, forks, and after the child's life runs code at
        // 0x500000 that nothing maps (no layout). The child touches 0x401000 only.
        let parent = banner(100, parent: 1) + """
            I  00401000,4
            SYSCALL[100,1](58) sys_fork ( )   fork: process 100 created child 101
             --> [pre-success] Success(0x65) 
            I  00500000,4\n
            """ + footer(100)
        let child = banner(101, parent: 100) + """
             --> [pre-success] Success(0x0) 
            I  00401004,4\n
            """ + footer(101)
        let (events, summary) = try importLogs([("lk.100.1.log", parent), ("lk.101.2.log", child)])
        XCTAssertEqual(events, [
            .proc(pid: 100, threads: 1),
            // Both pages are the parent program's, mapped at its start: the two code pages are
            // 0xff pages apart (more than 16), so two regions.
            mmap(100, 0x401000, 4096, "r-x"),
            mmap(100, 0x500000, 4096, "r-x"),
            access(.execute, 100, 0x401000, 4),
            .fork(parent: 100, child: 101),
            // The child inherited both mappings: nothing inferred for it.
            access(.execute, 101, 0x401004, 4),
            .exit(pid: 101),
            // Before the fix this page was counted as the child's, mapped in the child only, and
            // the parent's fetch found nothing there (SIGSEGV).
            access(.execute, 100, 0x500000, 4),
            .exit(pid: 100),
        ])
        // The first pass sees all three fetches outside every mapping (it maps nothing itself).
        XCTAssertEqual(summary.inferredAccesses, 3)
        XCTAssertEqual(summary.unmappedAccesses, 0)
        XCTAssertEqual(summary.inferredRegions.map(\.pid), [100, 100])
    }

    func testImportCountsAccessesAsTheReplayDoes() throws {
        // Issue 17 item 5: one word, one figure. An M record is a read and a write: 3 records,
        // 4 accesses, the number `replay.accesses` and `info` report for the trace.
        let log = banner(100) + anonMmap(100, "0x10000000") + " L 10000000,8\n M 10000008,4\nI  10000010,2\n" + footer(100)
        let (events, summary) = try importLogs([("lk.100.1.log", log)])
        XCTAssertEqual(summary.accessRecords, 3)
        XCTAssertEqual(summary.accesses, 4)
        XCTAssertEqual(UInt64(events.filter { if case .access = $0 { return true } else { return false } }.count), summary.accesses)
    }
}

extension LackeyImportTests {
    func testImportProgressCountsNestedLogsOnceAndGrows() throws {
        // Two logs of 1000 and 3000 bytes; the child's log is read inside the parent's.
        let parent = scratch.write("p.log", String(repeating: "x", count: 1000))
        let child = scratch.write("c.log", String(repeating: "y", count: 3000))
        var p = LackeyImportProgress()
        p.begin(pass: 1, logs: [parent, child])
        XCTAssertEqual(p.totalBytes, 4000)
        p.openLog()
        XCTAssertEqual(p.at(400).bytesRead, 400)
        p.openLog()                                   // the fork child's log, nested
        XCTAssertEqual(p.at(1000).bytesRead, 1400)    // the parent's 400 are not forgotten
        p.finishLog(3000)
        XCTAssertEqual(p.at(600).bytesRead, 3600)
        p.finishLog(1000)
        XCTAssertEqual(p.bytesRead, 4000)
        XCTAssertEqual(p.fraction, 0.5)               // the first of two passes done
        p.begin(pass: 2, logs: [parent, child])
        p.openLog()
        XCTAssertEqual(p.at(1000).fraction, 0.625)    // (1 + 1000/4000) / 2
    }
}
