// The Lackey importer on hand-written log snippets in the syntax Valgrind 3.19 prints
// (docs/recording.md). Every expected event is worked out in the comments next to it.

import Foundation
import XCTest
@testable import VMTrace
@testable import VMTraceLackey

final class LackeyImportTests: TraceTestCase {
    /// The banner Valgrind writes at the top of each process's log.
    func banner(_ pid: UInt32, command: String = "/bin/prog", parent: UInt32 = 1) -> String {
        """
        ==\(pid)== Lackey, an example Valgrind tool
        ==\(pid)== Copyright (C) 2002-2017, and GNU GPL'd, by Nicholas Nethercote.
        ==\(pid)== Using Valgrind-3.19.0 and LibVEX; rerun with -h for copyright info
        ==\(pid)== Command: \(command)
        ==\(pid)== Parent PID: \(parent)
        ==\(pid)== \n
        """
    }

    /// The summary Valgrind writes when a process exits.
    func footer(_ pid: UInt32) -> String {
        """
        ==\(pid)== 
        ==\(pid)== Counted 0 calls to main()
        ==\(pid)== Exit code:       0\n
        """
    }

    /// An anonymous read/write mapping of `length` bytes at `address` (mmap's result).
    func anonMmap(_ pid: UInt32, _ address: String, _ length: Int = 8192) -> String {
        "SYSCALL[\(pid),1](9) sys_mmap ( 0x0, \(length), 3, 34, 4294967295, 0 ) --> [pre-success] Success(\(address)) \n"
    }

    func importLogs(_ logs: [(name: String, text: String)], layouts: [String] = [], merge: Bool = false,
                    keepGoing: Bool = false) throws -> ([TraceEvent], LackeyImportSummary) {
        var options = LackeyImportOptions()
        options.merge = merge
        options.keepGoing = keepGoing
        options.layoutPaths = layouts.enumerated().map { scratch.write("layout\($0.offset).txt", $0.element) }
        let paths = logs.map { scratch.write($0.name, $0.text) }
        let importer = LackeyImporter(logs: paths, options: options)
        let events = try importer.events()
        return (events, importer.summary)
    }

    func mmap(_ pid: UInt32, _ address: UInt64, _ length: UInt64, _ prot: String, shared: Bool = false,
              stack: Bool = false, file: UInt32? = nil, offset: UInt64 = 0) -> TraceEvent {
        var flags: MmapFlags = []
        if shared { flags.insert(.shared) }
        if stack { flags.insert(.stack) }
        return .mmap(Mapping(pid: pid, address: address, length: length,
                             protection: Protection(text: Substring(prot))!, flags: flags,
                             fileID: file, offset: offset))
    }

    func access(_ kind: AccessKind, _ pid: UInt32, _ address: UInt64, _ size: UInt32) -> TraceEvent {
        .access(Access(kind: kind, pid: pid, address: address, size: size))
    }

    // MARK: - Lines

    func testAccessLinesParse() throws {
        XCTAssertEqual(try LackeyLineParser.parse("I  0401ab70,3"), .access(.instruction, address: 0x401ab70, size: 3))
        XCTAssertEqual(try LackeyLineParser.parse(" L 1fff000758,8"), .access(.load, address: 0x1fff000758, size: 8))
        XCTAssertEqual(try LackeyLineParser.parse(" S 04033ad0,16"), .access(.store, address: 0x4033ad0, size: 16))
        XCTAssertEqual(try LackeyLineParser.parse(" M 04033e06,1"), .access(.modify, address: 0x4033e06, size: 1))
        XCTAssertEqual(try LackeyLineParser.parse("I  FFFFFFFFFF600000,4"),
                       .access(.instruction, address: 0xffff_ffff_ff60_0000, size: 4))
        XCTAssertThrowsError(try LackeyLineParser.parse("I  0401ab70"))
        XCTAssertThrowsError(try LackeyLineParser.parse(" X 0401ab70,3"))
        XCTAssertThrowsError(try LackeyLineParser.parse("I  0401ab70,3x"))
    }

    func testSyscallLinesParse() throws {
        // Outcome on the same line, in each of the framework's three styles.
        XCTAssertEqual(try LackeyLineParser.parse("SYSCALL[15191,1](9) sys_mmap ( 0x0, 8192, 3, 34, 4294967295, 0 ) --> [pre-success] Success(0x4835000) "),
                       .syscall(LackeySyscallLine(pid: 15191, tid: 1, number: 9, name: "sys_mmap",
                                                  text: "sys_mmap ( 0x0, 8192, 3, 34, 4294967295, 0 )",
                                                  outcome: .done(.success(0x4835000)))))
        XCTAssertEqual(try LackeyLineParser.parse("SYSCALL[15191,1](3) sys_close ( 4 )[sync] --> Success(0x0) "),
                       .syscall(LackeySyscallLine(pid: 15191, tid: 1, number: 3, name: "sys_close",
                                                  text: "sys_close ( 4 )", outcome: .done(.success(0)))))
        XCTAssertEqual(try LackeyLineParser.parse("SYSCALL[15191,1](21) sys_access ( 0x402a2a0(/etc/ld.so.preload), 4 )[sync] --> Failure(0x2) "),
                       .syscall(LackeySyscallLine(pid: 15191, tid: 1, number: 21, name: "sys_access",
                                                  text: "sys_access ( 0x402a2a0(/etc/ld.so.preload), 4 )",
                                                  outcome: .done(.failure(2)))))
        // A blocking call and its end.
        XCTAssertEqual(try LackeyLineParser.parse("SYSCALL[7,2](257) sys_openat ( 4294967196, 0x4034bb0(/a --> b), 524288 ) --> [async] ... "),
                       .syscall(LackeySyscallLine(pid: 7, tid: 2, number: 257, name: "sys_openat",
                                                  text: "sys_openat ( 4294967196, 0x4034bb0(/a --> b), 524288 )",
                                                  outcome: .async)))
        XCTAssertEqual(try LackeyLineParser.parse("SYSCALL[7,2](257) ... [async] --> Success(0x4) "),
                       .asyncDone(pid: 7, tid: 2, number: 257, result: .success(4)))
        // The text printed a newline: the outcome comes on a continuation line.
        XCTAssertEqual(try LackeyLineParser.parse("SYSCALL[19042,1](56) sys_clone ( 1200011, 0x0, 0x0, 0x4a27a10, 0x0 )   clone(fork): process 19042 created child 19068"),
                       .syscall(LackeySyscallLine(pid: 19042, tid: 1, number: 56, name: "sys_clone",
                                                  text: "sys_clone ( 1200011, 0x0, 0x0, 0x4a27a10, 0x0 )   clone(fork): process 19042 created child 19068",
                                                  outcome: .pending)))
        XCTAssertEqual(try LackeyLineParser.parse(" --> [pre-success] Success(0x4a7c) "), .continuation(.done(.success(0x4a7c))))
        XCTAssertEqual(try LackeyLineParser.parse(" --> [pre-fail] Failure(0x26) "), .continuation(.done(.failure(0x26))))
        XCTAssertEqual(try LackeyLineParser.parse("SYSCALL[1,1](15) sys_rt_sigreturn ( ) --> [pre-success] NoWriteResult"),
                       .syscall(LackeySyscallLine(pid: 1, tid: 1, number: 15, name: "sys_rt_sigreturn",
                                                  text: "sys_rt_sigreturn ( )", outcome: .done(.noWriteResult))))
    }

    func testBannerAndMessageLinesParse() throws {
        XCTAssertEqual(try LackeyLineParser.parse("==15191== Command: /bin/ls\\ x -l"), .command(pid: 15191, "/bin/ls\\ x -l"))
        XCTAssertEqual(try LackeyLineParser.parse("==15191== Parent PID: 15184"), .parentPid(pid: 15191, 15184))
        XCTAssertEqual(try LackeyLineParser.parse("==15191== "), .banner(pid: 15191))
        XCTAssertEqual(try LackeyLineParser.parse("--15602-- transtab: allocate sector 0"), .message)
        XCTAssertEqual(try LackeyLineParser.parse(""), .blank)
        XCTAssertThrowsError(try LackeyLineParser.parse("==abc== x"))
        XCTAssertEqual(LackeyImporter.executable(of: "/opt/my\\ tools/prog -v"), "/opt/my tools/prog")
    }

    func testSyscallArgumentsDecode() throws {
        func decode(_ line: String) throws -> LackeyCall? {
            guard case .syscall(let s) = try LackeyLineParser.parse(line) else { return nil }
            return s.decode()
        }
        XCTAssertEqual(try decode("SYSCALL[1,1](9) sys_mmap ( 0x4838000, 4096, 5, 2066, 4, 4096 ) --> [pre-success] Success(0x4838000)"),
                       .mmap(address: 0x4838000, length: 4096, prot: 5, flags: 2066, fd: 4, offset: 4096))
        // fd -1 is printed as 4294967295.
        XCTAssertEqual(try decode("SYSCALL[1,1](9) sys_mmap ( 0x0, 8192, 3, 34, 4294967295, 0 ) --> [pre-success] Success(0x1000)"),
                       .mmap(address: 0, length: 8192, prot: 3, flags: 34, fd: -1, offset: 0))
        // A path may hold "(", ")" and ", ": it ends at the last "), ".
        XCTAssertEqual(try decode("SYSCALL[1,1](257) sys_openat ( 4294967196, 0x40(/tmp/a), b (c), 524288 ) --> [async] ... "),
                       .open(directory: nil, path: "/tmp/a), b (c"))
        XCTAssertEqual(try decode("SYSCALL[1,1](257) sys_openat ( 5, 0x40(x.so), 577, 438 ) --> [async] ... "),
                       .open(directory: 5, path: "x.so"))
        XCTAssertEqual(try decode("SYSCALL[1,1](2) sys_open ( 0x40(/etc/passwd), 0 ) --> [async] ... "),
                       .open(directory: nil, path: "/etc/passwd"))
        XCTAssertEqual(try decode("SYSCALL[1,1](80) sys_chdir ( 0x404bad0(/root/x) )[sync] --> Success(0x0) "),
                       .chdir(path: "/root/x"))
        XCTAssertEqual(try decode("SYSCALL[1,1](72) sys_fcntl[ARG3=='arg'] ( 3, 0, 10 )[sync] --> Success(0xb) "), .dup(fd: 3))
        XCTAssertEqual(try decode("SYSCALL[1,1](72) sys_fcntl ( 3, 1 )[sync] --> Success(0x0) "), .other)
        XCTAssertEqual(try decode("SYSCALL[1,1](56) sys_clone ( 3d0f00, 0x5ea1f70, 0x5ea2990, 0x5ea2990, 0x5ea26c0 ) --> [pre-success] Success(0x5428)"),
                       .clone(flags: 0x3d0f00, child: nil))
        XCTAssertEqual(try decode("SYSCALL[1,1](58) sys_fork ( )   fork: process 1 created child 77"), .fork(child: 77))
        XCTAssertEqual(try decode("SYSCALL[1,1](59) sys_execve ( 0x4035d38(/usr/bin/ls), 0x129958, 0x4035bf8 )"),
                       .execve(path: "/usr/bin/ls"))
        XCTAssertEqual(try decode("SYSCALL[1,1](25) sys_mremap ( 0x5ea3000, 1048576, 2097152, 0x1 ) --> [pre-success] Success(0x5fa3000)"),
                       .mremap(address: 0x5ea3000, oldLength: 1048576, newLength: 2097152, flags: 1))
        XCTAssertEqual(try decode("SYSCALL[1,2](60) exit( 0 ) --> [pre-success] Success(0x0) "), .exitThread)
        XCTAssertEqual(try decode("SYSCALL[1,1](231) exit_group( 0 ) --> [pre-success] Success(0x0) "), .exitGroup)
        XCTAssertNil(try decode("SYSCALL[1,1](9) sys_mmap ( 0x0, 8192 ) --> [pre-success] Success(0x1000)"))
    }

    // MARK: - Accesses

    func testAccessRecordsBecomeAccesses() throws {
        let log = banner(100) + anonMmap(100, "0x10000000") + """
            I  10000000,3
             L 10000008,8
             S 10000010,4
             M 10001ff0,4\n
            """ + footer(100)
        let (events, summary) = try importLogs([("lk.100.1.log", log)])
        XCTAssertEqual(events, [
            .proc(pid: 100, threads: 1),
            // 8192 bytes, prot 3 = PROT_READ|PROT_WRITE, flags 34 = MAP_PRIVATE|MAP_ANONYMOUS.
            mmap(100, 0x1000_0000, 8192, "rw-"),
            access(.execute, 100, 0x1000_0000, 3),  // I
            access(.read, 100, 0x1000_0008, 8),     // L
            access(.write, 100, 0x1000_0010, 4),    // S
            access(.read, 100, 0x1000_1ff0, 4),     // M = r then w, same address and size
            access(.write, 100, 0x1000_1ff0, 4),
            .exit(pid: 100),
        ])
        XCTAssertEqual(summary.accessRecords, 4)
        XCTAssertEqual(summary.inferredAccesses, 0)
        XCTAssertEqual(summary.unmappedAccesses, 0)
    }

    // MARK: - System calls

    func testFileMappingNamesTheOpenedFile() throws {
        let log = banner(100) + """
            SYSCALL[100,1](257) sys_openat ( 4294967196, 0x4034bb0(/nonexistent/dir/lib.so), 524288 ) --> [async] ... 
            SYSCALL[100,1](257) ... [async] --> Success(0x3) 
            SYSCALL[100,1](9) sys_mmap ( 0x0, 10000, 5, 2, 3, 4096 ) --> [pre-success] Success(0x20000000) 
            SYSCALL[100,1](32) sys_dup ( 3 )[sync] --> Success(0x5) 
            SYSCALL[100,1](3) sys_close ( 3 )[sync] --> Success(0x0) 
            SYSCALL[100,1](9) sys_mmap ( 0x20003000, 4096, 1, 18, 5, 0 ) --> [pre-success] Success(0x20003000) 
            SYSCALL[100,1](33) sys_dup2 ( 5, 7 )[sync] --> Success(0x7) 
            SYSCALL[100,1](9) sys_mmap ( 0x0, 4096, 3, 1, 7, 8192 ) --> [pre-success] Success(0x20010000) 
            SYSCALL[100,1](9) sys_mmap ( 0x0, 4096, 1, 2, 3, 0 ) --> [pre-success] Success(0x30000000) \n
            """ + footer(100)
        let (events, summary) = try importLogs([("lk.100.1.log", log)])
        XCTAssertEqual(events, [
            .proc(pid: 100, threads: 1),
            // The file is gone: its size is how far the logs map it, the largest of
            // 4096 + 12288 (10000 rounded up), 0 + 4096 and 8192 + 4096.
            .file(id: 1, size: 16384, resident: false, path: "/nonexistent/dir/lib.so"),
            // prot 5 = r-x, flags 2 = MAP_PRIVATE, fd 3 = the openat's result.
            mmap(100, 0x2000_0000, 12288, "r-x", file: 1, offset: 4096),
            // fd 5 is dup(3); flags 18 = MAP_PRIVATE|MAP_FIXED.
            mmap(100, 0x2000_3000, 4096, "r--", file: 1),
            // fd 7 is dup2(5, 7); flags 1 = MAP_SHARED.
            mmap(100, 0x2001_0000, 4096, "rw-", shared: true, file: 1, offset: 8192),
            // fd 3 was closed: an unknown descriptor still gets a file of its own.
            .file(id: 2, size: 4096, resident: false, path: "<descriptor 3 of process 100>"),
            mmap(100, 0x3000_0000, 4096, "r--", file: 2),
            .exit(pid: 100),
        ])
        XCTAssertTrue(summary.notes.contains { $0.contains("/nonexistent/dir/lib.so is gone") }, "\(summary.notes)")
        XCTAssertEqual(summary.files, 2)
    }

    func testExistingFileSizeComesFromStat() throws {
        let data = scratch.write("data.bin", String(repeating: "x", count: 5000))
        let log = banner(100) + """
            SYSCALL[100,1](2) sys_open ( 0x40(\(data)), 0 ) --> [async] ... 
            SYSCALL[100,1](2) ... [async] --> Success(0x4) 
            SYSCALL[100,1](9) sys_mmap ( 0x0, 4096, 1, 2, 4, 0 ) --> [pre-success] Success(0x20000000) \n
            """
        let (events, _) = try importLogs([("lk.100.1.log", log)])
        XCTAssertEqual(events[1], .file(id: 1, size: 5000, resident: false, path: TracePath(data)))
    }

    func testMappingCallsBecomeMappingEvents() throws {
        let log = banner(100) + """
            SYSCALL[100,1](12) sys_brk ( 0x0 ) --> [pre-success] Success(0x4035000) 
            SYSCALL[100,1](12) sys_brk ( 0x4056000 ) --> [pre-success] Success(0x4056000) 
            SYSCALL[100,1](12) sys_brk ( 0x4057800 ) --> [pre-success] Success(0x4057800) 
            SYSCALL[100,1](12) sys_brk ( 0x4040000 ) --> [pre-success] Success(0x4040000) 
            SYSCALL[100,1](9) sys_mmap ( 0x0, 16384, 3, 34, 4294967295, 0 ) --> [pre-success] Success(0x5000000) 
            SYSCALL[100,1](10) sys_mprotect ( 0x5000000, 100, 1 )[sync] --> Success(0x0) 
            SYSCALL[100,1](28) sys_madvise ( 0x5001000, 8192, 4 ) --> [async] ... 
            SYSCALL[100,1](28) ... [async] --> Success(0x0) 
            SYSCALL[100,1](28) sys_madvise ( 0x5001000, 4096, 14 ) --> [async] ... 
            SYSCALL[100,1](28) ... [async] --> Success(0x0) 
            SYSCALL[100,1](149) sys_mlock ( 0x5002010, 100 ) --> [async] ... 
            SYSCALL[100,1](149) ... [async] --> Success(0x0) 
            SYSCALL[100,1](150) sys_munlock ( 0x5002010, 100 ) --> [async] ... 
            SYSCALL[100,1](150) ... [async] --> Success(0x0) 
            SYSCALL[100,1](9) sys_mmap ( 0x0, 16384, 3, 34, 4294967295, 0 ) --> [pre-success] Success(0x5100000) 
            SYSCALL[100,1](25) sys_mremap ( 0x5100000, 16384, 32768, 0x1 ) --> [pre-success] Success(0x5100000) 
            SYSCALL[100,1](25) sys_mremap ( 0x5100000, 32768, 8192, 0x1 ) --> [pre-success] Success(0x5100000) 
            SYSCALL[100,1](25) sys_mremap ( 0x5100000, 8192, 65536, 0x1 ) --> [pre-success] Success(0x6000000) 
            SYSCALL[100,1](11) sys_munmap ( 0x6000000, 65536 )[sync] --> Success(0x0) 
            SYSCALL[100,1](11) sys_munmap ( 0x7000000, 4096 )[sync] --> Failure(0x16) \n
            """ + footer(100)
        let (events, summary) = try importLogs([("lk.100.1.log", log)])
        XCTAssertEqual(events, [
            .proc(pid: 100, threads: 1),
            // brk(0) = 0x4035000 is where the heap starts: nothing mapped yet. Growing to
            // 0x4056000 maps [0x4035000, 0x4056000) = 135168 bytes, rwx as DragonFly's obreak.
            mmap(100, 0x403_5000, 135_168, "rwx"),
            // 0x4057800 rounds up to 0x4058000: two more pages.
            mmap(100, 0x405_6000, 8192, "rwx"),
            // Back to 0x4040000: [0x4040000, 0x4058000) = 98304 bytes go.
            .munmap(pid: 100, address: 0x404_0000, length: 98_304),
            mmap(100, 0x500_0000, 16384, "rw-"),
            // 100 bytes round up to a page; prot 1 = r--.
            .mprotect(pid: 100, address: 0x500_0000, length: 4096, protection: .read),
            // advice 4 = MADV_DONTNEED; 14 (MADV_HUGEPAGE) has no counterpart and is ignored.
            .madvise(pid: 100, address: 0x500_1000, length: 8192, advice: .dontneed),
            // mlock rounds the start down and the end (0x5002074) up.
            .mlock(pid: 100, address: 0x500_2000, length: 4096),
            .munlock(pid: 100, address: 0x500_2000, length: 4096),
            mmap(100, 0x510_0000, 16384, "rw-"),
            // Growing in place maps the new tail like the old mapping.
            mmap(100, 0x510_4000, 16384, "rw-"),
            // Shrinking from 32768 to 8192 unmaps the last 24576 bytes.
            .munmap(pid: 100, address: 0x510_2000, length: 24576),
            // A move: the old range goes, the new one comes with the same attributes.
            .munmap(pid: 100, address: 0x510_0000, length: 8192),
            mmap(100, 0x600_0000, 65536, "rw-"),
            .munmap(pid: 100, address: 0x600_0000, length: 65536),
            // The failed munmap adds nothing.
            .exit(pid: 100),
        ])
        XCTAssertEqual(summary.failedSyscalls, 1)
        XCTAssertEqual(summary.ignoredSyscalls["sys_madvise"], 1)
    }

    func testThreadsComeAndGo() throws {
        let log = banner(100) + """
            SYSCALL[100,1](56) sys_clone ( 3d0f00, 0x5ea1f70, 0x5ea2990, 0x5ea2990, 0x5ea26c0 ) --> [pre-success] Success(0x65) 
            SYSCALL[100,1](56) sys_clone ( 3d0f00, 0x5ea1f70, 0x5ea2990, 0x5ea2990, 0x5ea26c0 ) --> [pre-success] Success(0x66) 
            SYSCALL[100,2](60) exit( 0 ) --> [pre-success] Success(0x0) 
            SYSCALL[100,1](231) exit_group( 0 ) --> [pre-success] Success(0x0) \n
            """ + footer(100)
        let (events, summary) = try importLogs([("lk.100.1.log", log)])
        // 0x3d0f00 includes CLONE_VM (0x100): a thread each; exit() ends one.
        XCTAssertEqual(events, [
            .proc(pid: 100, threads: 1),
            .threads(pid: 100, count: 2),
            .threads(pid: 100, count: 3),
            .threads(pid: 100, count: 2),
            .exit(pid: 100),
        ])
        XCTAssertEqual(summary.ignoredSyscalls["exit_group"], 1)
    }

    /// The parent's and the child's logs, given child first: the child's events come where the
    /// parent's fork returned.
    func forkLogs(childTail: String) -> [(name: String, text: String)] {
        let parent = banner(100, parent: 1) + anonMmap(100, "0x10000000", 4096) + """
             S 10000000,8
            SYSCALL[100,1](56) sys_clone ( 1200011, 0x0, 0x0, 0x4a27a10, 0x0 )   clone(fork): process 100 created child 101
             --> [pre-success] Success(0x65) 
             L 10000000,8\n
            """ + footer(100)
        let child = banner(101, parent: 100) + """
             --> [pre-success] Success(0x0) 
             S 10000008,8\n
            """ + childTail
        return [("lk.101.2.log", child), ("lk.100.1.log", parent)]
    }

    func testForkMergesTheChildLogWhereForkReturned() throws {
        try checkForkMerge(forkLogs(childTail: footer(101)))
    }

    func testPosixSpawnCloneIsAFork() throws {
        // posix_spawn's clone(CLONE_VM|CLONE_VFORK|SIGCHLD) = 0x4111: Valgrind runs it as a fork
        // and names the child.
        var logs = forkLogs(childTail: footer(101))
        logs[1].text = logs[1].text.replacingOccurrences(of: "sys_clone ( 1200011,", with: "sys_clone ( 4111,")
        try checkForkMerge(logs)
    }

    func checkForkMerge(_ logs: [(name: String, text: String)], file: StaticString = #filePath, line: UInt = #line) throws {
        let (events, summary) = try importLogs(logs)
        XCTAssertEqual(events, [
            .proc(pid: 100, threads: 1),
            mmap(100, 0x1000_0000, 4096, "rw-"),
            access(.write, 100, 0x1000_0000, 8),
            .fork(parent: 100, child: 101),
            access(.write, 101, 0x1000_0008, 8),   // the child inherited the mapping
            .exit(pid: 101),
            access(.read, 100, 0x1000_0000, 8),
            .exit(pid: 100),
        ], file: file, line: line)
        XCTAssertEqual(summary.forks, 1, file: file, line: line)
        XCTAssertEqual(summary.processes, 2, file: file, line: line)
        XCTAssertEqual(summary.unmappedAccesses, 0, file: file, line: line)
    }

    func testExecStartsANewProgramFromTheNextLog() throws {
        // The child's log ends inside execve (Valgrind prints no newline: the call never
        // returns); the exec'd program's log is the child's second log.
        var logs = forkLogs(childTail: "SYSCALL[101,1](59) sys_execve ( 0x4035d38(/usr/bin/ls), 0x129958, 0x4035bf8 )")
        logs.append(("lk.101.1.log", banner(101, command: "/usr/bin/ls /tmp", parent: 100)
                        + anonMmap(101, "0x30000000", 4096) + " L 30000000,4\n" + footer(101)))
        let (events, summary) = try importLogs(logs)
        XCTAssertEqual(events, [
            .proc(pid: 100, threads: 1),
            mmap(100, 0x1000_0000, 4096, "rw-"),
            access(.write, 100, 0x1000_0000, 8),
            .fork(parent: 100, child: 101),
            access(.write, 101, 0x1000_0008, 8),
            .exec(pid: 101),
            mmap(101, 0x3000_0000, 4096, "rw-"),
            access(.read, 101, 0x3000_0000, 4),
            .exit(pid: 101),
            access(.read, 100, 0x1000_0000, 8),
            .exit(pid: 100),
        ])
        XCTAssertEqual(summary.execs, 1)
        XCTAssertTrue(summary.notes.isEmpty, "\(summary.notes)")
    }

    func testExecWithinOneLogFile() throws {
        // What scripts/record.sh keeps for the first process: every program it ran, one after
        // the other, the next banner right after `sys_execve ( ... )`.
        let log = banner(100, command: "sh -c exec\\ /bin/true") + anonMmap(100, "0x10000000", 4096)
            + " S 10000000,8\n"
            + "SYSCALL[100,1](59) sys_execve ( 0x1299d0(/nonexistent/sh), 0x4035bc8, 0x4035bd8 ) --> [pre-fail] Failure(0x2) \n"
            + "SYSCALL[100,1](59) sys_execve ( 0x1299d0(/bin/true), 0x4035bc8, 0x4035bd8 )"
            + banner(100, command: "/bin/true") + " L 10000000,8\n" + footer(100)
        let (events, summary) = try importLogs([("lk.100.1.log", log)])
        XCTAssertEqual(events, [
            .proc(pid: 100, threads: 1),
            mmap(100, 0x1000_0000, 4096, "rw-"),
            access(.write, 100, 0x1000_0000, 8),
            // The failed execve changes nothing; the second one starts /bin/true.
            .exec(pid: 100),
            // The new program's address space is empty: its access needs an inferred mapping
            // (a read: r--; the only data region written? no: not the stack).
            mmap(100, 0x1000_0000, 4096, "r--"),
            access(.read, 100, 0x1000_0000, 8),
            .exit(pid: 100),
        ])
        XCTAssertEqual(summary.execs, 1)
        XCTAssertEqual(summary.failedSyscalls, 1)
        XCTAssertEqual(summary.inferredAccesses, 1)
    }

    func testMissingExecLogIsNoted() throws {
        let log = banner(100) + "SYSCALL[100,1](59) sys_execve ( 0x1(/bin/true), 0x2, 0x3 )"
        let (events, summary) = try importLogs([("lk.100.1.log", log)])
        XCTAssertEqual(events, [.proc(pid: 100, threads: 1), .exec(pid: 100), .exit(pid: 100)])
        XCTAssertTrue(summary.notes.contains { $0.contains("no log of that program") }, "\(summary.notes)")
    }

    func testUnknownSystemCallsAreIgnoredAndCounted() throws {
        let log = banner(100) + """
            SYSCALL[100,1](0) sys_read ( 0, 0x1ffefff000, 832 ) --> [async] ... 
            SYSCALL[100,1](0) ... [async] --> Success(0x340) 
            SYSCALL[100,1](334) unimplemented (by the kernel) syscall: 334! (ni_syscall)
             --> [pre-fail] Failure(0x26) 
            SYSCALL[100,1](39) sys_getpid ( )[sync] --> Success(0x64) 
            SYSCALL[100,1](61) sys_wait4 ( 4294967295, 0x1ffefff640, 0, 0x0 ) --> [async] ... 
            SYSCALL[100,1](61) sys_wait4 ( 4294967295, 0x1ffefff640, 0, 0x0 ) --> [async] ... 
            SYSCALL[100,1](61) ... [async] --> Success(0x65) \n
            """ + footer(100)
        let (events, summary) = try importLogs([("lk.100.1.log", log)])
        XCTAssertEqual(events, [.proc(pid: 100, threads: 1), .exit(pid: 100)])
        // read, getpid and the second wait4 (the first was interrupted: it never ended).
        XCTAssertEqual(summary.ignoredSyscalls, ["sys_read": 1, "sys_getpid": 1, "sys_wait4": 1])
        XCTAssertEqual(summary.failedSyscalls, 1)  // the unimplemented one
        XCTAssertEqual(summary.appliedSyscalls, 0)
    }

    // MARK: - Damage

    func testTruncatedLastLineIsToleratedAndNoted() throws {
        let log = banner(100) + anonMmap(100, "0x10000000") + "I  10000000,3\nI  1000"
        let (events, summary) = try importLogs([("lk.100.1.log", log)])
        XCTAssertEqual(events, [
            .proc(pid: 100, threads: 1),
            mmap(100, 0x1000_0000, 8192, "rw-"),
            access(.execute, 100, 0x1000_0000, 3),
            .exit(pid: 100),
        ])
        // Line 9: six banner lines, the mmap, the access, then the cut one.
        XCTAssertTrue(summary.notes.contains { $0.contains("lk.100.1.log:9: the log ends in the middle of a line") },
                      "\(summary.notes)")
    }

    func testGarbageLineIsADataErrorWithFileAndLine() throws {
        let log = banner(100) + "I  10000000,3\nhello world\nI  10000004,3\n"
        let paths = [scratch.write("lk.100.1.log", log)]
        let error = expectTraceError(.dataError) { try LackeyImporter(logs: paths).events() }
        XCTAssertEqual(error?.file, "\(scratch.path)/lk.100.1.log")
        XCTAssertEqual(error?.line, 8)  // six banner lines, one access, then the garbage
        XCTAssertEqual(error?.exitCode, 65)
        XCTAssertEqual(error?.description,
                       "vmreplay: \(scratch.path)/lk.100.1.log:8: not a Lackey or Valgrind line: \"hello world\"")
    }

    func testLogThatIsNotALackeyLog() throws {
        let notALog = [scratch.write("notes.txt", "hello\nworld\n")]
        let error = expectTraceError(.dataError) { try LackeyImporter(logs: notALog).events() }
        XCTAssertEqual(error?.line, 1)
        // Accesses alone do not say whose they are.
        let anonymous = [scratch.write("anon.log", "I  10000000,3\n L 10000008,8\n")]
        let error2 = expectTraceError(.dataError) { try LackeyImporter(logs: anonymous).events() }
        XCTAssertTrue(error2?.message.contains("cannot tell which process") ?? false, "\(String(describing: error2))")
        // A log without a banner takes its pid from its first system call.
        let (events, _) = try importLogs([("bare.log", anonMmap(42, "0x10000000") + "I  10000000,3\n")])
        XCTAssertEqual(events, [.proc(pid: 42, threads: 1), mmap(42, 0x1000_0000, 8192, "rw-"),
                                access(.execute, 42, 0x1000_0000, 3), .exit(pid: 42)])
    }

    func testKeepGoingSkipsAndCountsGarbage() throws {
        let log = banner(100) + anonMmap(100, "0x10000000") + "I  10000000,3\nhello world\nI  10000004,3\n"
        let (events, summary) = try importLogs([("lk.100.1.log", log)], keepGoing: true)
        XCTAssertEqual(events, [
            .proc(pid: 100, threads: 1),
            mmap(100, 0x1000_0000, 8192, "rw-"),
            access(.execute, 100, 0x1000_0000, 3),
            access(.execute, 100, 0x1000_0004, 3),
            .exit(pid: 100),
        ])
        XCTAssertEqual(summary.skippedLines, 1)
        XCTAssertEqual(summary.skippedErrors.first?.line, 9)
    }

    func testAnotherProcessInALogIsAnError() throws {
        let log = banner(100) + "SYSCALL[101,1](39) sys_getpid ( )[sync] --> Success(0x65) \n"
        let paths = [scratch.write("all.log", log)]
        let error = expectTraceError(.dataError) { try LackeyImporter(logs: paths).events() }
        XCTAssertEqual(error?.line, 7)
        XCTAssertTrue(error?.message.contains("process 101 in the log of process 100") ?? false)
    }

    // MARK: - Startup layouts and inferred mappings

    static let layout = """
        --200:1:    main Create initial image
        --200:1: aspacem <<< SHOW_SEGMENTS: Memory layout at client startup (9 segments)
        --200:1: aspacem 2 segment names in 2 slots
        --200:1: aspacem freelist is empty
        --200:1: aspacem (0,4,9) /usr/libexec/valgrind/lackey-amd64-linux
        --200:1: aspacem (1,49,7) /nonexistent/prog
        --200:1: aspacem   0: RSVN 0000000000-0000107fff 1081344 ----- SmFixed
        --200:1: aspacem   1: file 0000108000-0000109fff    8192 r---- d=0xfe00 i=254734  o=0       (1,49)
        --200:1: aspacem   2: file 000010a000-000010dfff   16384 r-x-- d=0xfe00 i=254734  o=8192    (1,49)
        --200:1: aspacem   3: anon 0004035000-0004035fff    4096 rwx--
        --200:1: aspacem   4: RSVN 0004036000-0004834fff 8384512 ----- SmLower
        --200:1: aspacem   5: FILE 0058000000-0058000fff    4096 r---- d=0xfe00 i=335384  o=0       (0,4)
        --200:1: aspacem   6:      0058001000-1ffe800fff  65472m
        --200:1: aspacem   7: RSVN 1ffe801000-1ffeffefff 8380416 ----- SmUpper
        --200:1: aspacem   8: anon 1ffefff000-1fff000fff    8192 rw---
        --200:1: aspacem >>>
        the program's own standard error\n
        """

    func testLayoutSegmentsAreRecognised() throws {
        let layouts = try LackeyLayouts(path: scratch.write("stderr.txt", Self.layout))
        XCTAssertEqual(layouts.byPid[200], [[
            LackeyLayoutSegment(start: 0x108000, end: 0x10a000, protection: .read,
                                kind: .file(path: "/nonexistent/prog", offset: 0)),
            LackeyLayoutSegment(start: 0x10a000, end: 0x10e000, protection: [.read, .execute],
                                kind: .file(path: "/nonexistent/prog", offset: 8192)),
            // Right below the SmLower reservation: the brk area. Valgrind's FILE (upper case) is
            // its own; the SmUpper reservation under the anon segment makes it the stack.
            LackeyLayoutSegment(start: 0x4035000, end: 0x4036000, protection: .all, kind: .brk),
            LackeyLayoutSegment(start: 0x1ffefff000, end: 0x1fff001000, protection: [.read, .write],
                                kind: .stack(reserveStart: 0x1ffe801000)),
        ]])
        XCTAssertTrue(layouts.damaged.isEmpty)
    }

    func testLayoutGivesTheStartupMappings() throws {
        let log = banner(200, command: "/nonexistent/prog") + """
            SYSCALL[200,1](12) sys_brk ( 0x0 ) --> [pre-success] Success(0x4035000) 
            I  0010a000,4
             S 1fff000ff0,8
            SYSCALL[200,1](12) sys_brk ( 0x4037000 ) --> [pre-success] Success(0x4037000) 
             S 04035000,8\n
            """ + footer(200)
        let (events, summary) = try importLogs([("lk.200.1.log", log)], layouts: [Self.layout])
        XCTAssertEqual(events, [
            .proc(pid: 200, threads: 1),
            // The file is gone: its size is the furthest extent mapped, 8192 + 16384.
            .file(id: 1, size: 24576, resident: false, path: "/nonexistent/prog"),
            mmap(200, 0x108000, 8192, "r--", file: 1),
            mmap(200, 0x10a000, 16384, "r-x", file: 1, offset: 8192),
            // The stack reaches from the SmUpper reservation's start to the segment's end: 8 MiB.
            mmap(200, 0x1ffe801000, 8 << 20, "rw-", stack: true),
            // exec's copy of arguments and environment into the stack segment.
            access(.kernelWrite, 200, 0x1ffefff000, 8192),
            access(.execute, 200, 0x10a000, 4),
            access(.write, 200, 0x1fff000ff0, 8),
            // brk(0) returns the brk segment's start: nothing to map. Growing maps 2 pages.
            mmap(200, 0x4035000, 8192, "rwx"),
            access(.write, 200, 0x4035000, 8),
            .exit(pid: 200),
        ])
        XCTAssertEqual(summary.layoutsUsed, 1)
        XCTAssertEqual(summary.inferredAccesses, 0)
    }

    func testInferredMappingsCoverUnmappedAccesses() throws {
        let log = banner(300) + """
            I  401000,4
            I  402ff0,4
             S 7ffff000,8
             L 600000,8
             S 601000,4
             L ffffffffff600000,8\n
            """ + footer(300)
        let (events, summary) = try importLogs([("lk.300.1.log", log)])
        XCTAssertEqual(events, [
            .proc(pid: 300, threads: 1),
            // Pages 0x401 and 0x402 were executed: one code region, r-x.
            mmap(300, 0x401000, 8192, "r-x"),
            // Pages 0x600 (read) and 0x601 (written), one page apart: one data region, rw-.
            mmap(300, 0x600000, 8192, "rw-"),
            // Page 0x7ffff, written, the highest data region: the stack, 8 MiB below its top
            // (0x80000000 - 8 MiB = 0x7f800000, above the data region's end).
            mmap(300, 0x7f80_0000, 8 << 20, "rw-", stack: true),
            access(.execute, 300, 0x401000, 4),
            access(.execute, 300, 0x402ff0, 4),
            access(.write, 300, 0x7fff_f000, 8),
            access(.read, 300, 0x600000, 8),
            access(.write, 300, 0x601000, 4),
            // A kernel address: nothing can be mapped there.
            access(.read, 300, 0xffff_ffff_ff60_0000, 8),
            .exit(pid: 300),
        ])
        XCTAssertEqual(summary.inferredAccesses, 5)
        XCTAssertEqual(summary.kernelAddressAccesses, 1)
        XCTAssertEqual(summary.unmappedAccesses, 0)
        XCTAssertEqual(summary.inferredRegions.map { [$0.start, $0.end, UInt64($0.pages), $0.accesses] },
                       [[0x401000, 0x403000, 2, 2], [0x600000, 0x602000, 2, 2], [0x7fff_f000, 0x8000_0000, 1, 1]])
        XCTAssertEqual(summary.inferredRegions.map(\.stack), [false, false, true])
    }

    // MARK: - Merging

    func testMergeDropsOnlyRepeatedDataAccessesToOnePage() throws {
        let log = banner(100) + anonMmap(100, "0x10000000") + """
             L 10000000,8
             L 10000100,4
             S 10000200,8
             S 10000300,8
             L 10001000,8
            I  10001010,4
            I  10001014,4
             L 10000ff8,16
             L 10001ff0,8
             M 10001f00,4\n
            """ + footer(100)
        let (events, summary) = try importLogs([("lk.100.1.log", log)], merge: true)
        XCTAssertEqual(events, [
            .proc(pid: 100, threads: 1),
            mmap(100, 0x1000_0000, 8192, "rw-"),
            access(.read, 100, 0x1000_0000, 8),
            // L 10000100: a read of the same page right after a read: dropped.
            access(.write, 100, 0x1000_0200, 8),
            // S 10000300: dropped.
            access(.read, 100, 0x1000_1000, 8),      // another page
            access(.execute, 100, 0x1000_1010, 4),   // instruction fetches are never merged
            access(.execute, 100, 0x1000_1014, 4),
            access(.read, 100, 0x1000_0ff8, 16),     // spans two pages: kept, and ends the run
            access(.read, 100, 0x1000_1ff0, 8),
            // M = r (dropped: repeats the read of page 0x10001) then w (kept).
            access(.write, 100, 0x1000_1f00, 4),
            .exit(pid: 100),
        ])
        XCTAssertEqual(summary.mergedAccesses, 3)
    }
}
