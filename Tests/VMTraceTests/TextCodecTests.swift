// SPEC §1 text format: every event, every number form, comments and headers, and the
// malformed forms with their line numbers and exit code 65.

import XCTest
@testable import VMTrace

final class TextCodecTests: TraceTestCase {
    func testEveryEventParses() throws {
        let events = try parse("""
            # leading comment

            vmtrace 1
            file 7 1M resident /usr/lib/my lib.so   # trailing comment
            file 8 4096
            file 9 0 resident
            proc 1
            proc 2 threads=4
            threads 1 3
            fork 1 3
            exec 3
            mmap 1 0x10000000 64K rw- private anon
            mmap 1 0x400000 8192 r-x shared file=7 off=4K stack nosync device uksmap
            mmap 1 0x20000000 64K rw- private anon vpagetable
            madvise 1 0x20000000 64K setmap 0x8000000000001083
            store 1 0x20000008 0xffffffffffffffff
            store 1 536870928 0
            munmap 1 0x10000000 4096
            mprotect 1 0x10001000 4K r--
            madvise 1 0x10002000 4K willneed
            mlock 1 0x10003000 0x1000
            munlock 1 0x10003000 4096
            r 1 0x10000000
            w 1 0x10000008 8
            x 1 4194320 4
            kr 1 0x10000010 16
            kw 1 0x10000020 2K
            peek 2 0x10
            poke 2 0x20
            drop_caches
            exit 3
            """)
        XCTAssertEqual(events, [
            .file(id: 7, size: 1 << 20, resident: true, path: "/usr/lib/my lib.so"),
            .file(id: 8, size: 4096, resident: false, path: ""),
            .file(id: 9, size: 0, resident: true, path: ""),
            .proc(pid: 1, threads: 1),
            .proc(pid: 2, threads: 4),
            .threads(pid: 1, count: 3),
            .fork(parent: 1, child: 3),
            .exec(pid: 3),
            .mmap(Mapping(pid: 1, address: 0x1000_0000, length: 65536, protection: [.read, .write])),
            .mmap(Mapping(pid: 1, address: 0x40_0000, length: 8192, protection: [.read, .execute],
                          flags: [.shared, .stack, .nosync, .device, .uksmap], fileID: 7, offset: 4096)),
            .mmap(Mapping(pid: 1, address: 0x2000_0000, length: 65536, protection: [.read, .write],
                          flags: [.vpagetable])),
            .setmap(pid: 1, address: 0x2000_0000, length: 65536, value: 0x8000_0000_0000_1083),
            .store(pid: 1, address: 0x2000_0008, value: 0xFFFF_FFFF_FFFF_FFFF),
            .store(pid: 1, address: 0x2000_0010, value: 0),
            .munmap(pid: 1, address: 0x1000_0000, length: 4096),
            .mprotect(pid: 1, address: 0x1000_1000, length: 4096, protection: .read),
            .madvise(pid: 1, address: 0x1000_2000, length: 4096, advice: .willneed),
            .mlock(pid: 1, address: 0x1000_3000, length: 4096),
            .munlock(pid: 1, address: 0x1000_3000, length: 4096),
            .access(Access(kind: .read, pid: 1, address: 0x1000_0000)),
            .access(Access(kind: .write, pid: 1, address: 0x1000_0008, size: 8)),
            .access(Access(kind: .execute, pid: 1, address: 0x40_0010, size: 4)),
            .access(Access(kind: .kernelRead, pid: 1, address: 0x1000_0010, size: 16)),
            .access(Access(kind: .kernelWrite, pid: 1, address: 0x1000_0020, size: 2048)),
            .access(Access(kind: .peek, pid: 2, address: 0x10)),
            .access(Access(kind: .poke, pid: 2, address: 0x20)),
            .dropCaches,
            .exit(pid: 3),
        ])
    }

    func testEveryAdviceAndProtection() throws {
        var text = "vmtrace 1\nproc 1\n"
        var expected: [TraceEvent] = [.proc(pid: 1, threads: 1)]
        for advice in Advice.allCases {
            text += "madvise 1 0x1000 4096 \(advice.keyword)\n"
            expected.append(.madvise(pid: 1, address: 4096, length: 4096, advice: advice))
        }
        for raw in 0..<8 {
            let prot = Protection(rawValue: UInt8(raw))
            text += "mprotect 1 0x1000 4096 \(prot)\n"
            expected.append(.mprotect(pid: 1, address: 4096, length: 4096, protection: prot))
        }
        XCTAssertEqual(try parse(text), expected)
    }

    /// Lengths and sizes in every form: decimal, hex, K/M/G (binary), hex with suffix.
    func testNumberForms() throws {
        let forms: [(String, UInt64)] = [
            ("8192", 8192), ("0x2000", 8192), ("0X2000", 8192), ("8K", 8192), ("8k", 8192),
            ("0x8K", 8192), ("2M", 2 << 20), ("0x1m", 1 << 20), ("3G", 3 << 30), ("1g", 1 << 30),
            ("0x0000000000000000000000002000", 8192), ("00008192", 8192),
            ("16777216G", 1 << 54), ("0xfffffffffffff000", 0xffff_ffff_ffff_f000),
        ]
        for (form, value) in forms {
            let events = try parse("vmtrace 1\nproc 1\nmunmap 1 0 \(form)\nfile 1 \(form)\n")
            XCTAssertEqual(events[1], .munmap(pid: 1, address: 0, length: value), form)
            XCTAssertEqual(events[2], .file(id: 1, size: value, resident: false, path: ""), form)
        }
        let sizes: [(String, UInt32)] = [("1", 1), ("0x10", 16), ("4K", 4096), ("0x1K", 1024), ("1M", 1 << 20),
                                         ("1G", 1 << 30), ("3G", 3 << 30), ("4294967295", .max)]
        for (form, value) in sizes {
            let events = try parse("vmtrace 1\nproc 1\nr 1 0 \(form)\n")
            XCTAssertEqual(events[1], .access(Access(kind: .read, pid: 1, address: 0, size: value)), form)
        }
        let addresses: [(String, UInt64)] = [("0", 0), ("4096", 4096), ("0x7fffffffe000", 0x7fff_ffff_e000),
                                             ("0xFFFFFFFFFFFFFFFF", .max), ("18446744073709551615", .max),
                                             ("0xAbCdEf", 0xabcdef)]
        for (form, value) in addresses {
            let events = try parse("vmtrace 1\nproc 1\nx 1 \(form)\n")
            XCTAssertEqual(events[1], .access(Access(kind: .execute, pid: 1, address: value)), form)
        }
        let pids = try parse("vmtrace 1\nproc 0x10\nproc 4294967295\nr 16 0\n")
        XCTAssertEqual(pids, [.proc(pid: 16, threads: 1), .proc(pid: .max, threads: 1),
                              .access(Access(kind: .read, pid: 16, address: 0))])
    }

    func testBlanksCommentsAndLineEndings() throws {
        let events = try parse("\n  # c\n\t\nvmtrace 1 # header\r\nproc 1\r\n  r\t1 \t0x10   8   \r\nr 1 0x20#c\nw 1 0x30")
        XCTAssertEqual(events, [
            .proc(pid: 1, threads: 1),
            .access(Access(kind: .read, pid: 1, address: 0x10, size: 8)),
            .access(Access(kind: .read, pid: 1, address: 0x20)),
            .access(Access(kind: .write, pid: 1, address: 0x30)),
        ])
    }

    func testFilePathIsTheRestOfTheLine() throws {
        let events = try parse("vmtrace 1\nfile 1 10 a  b\tc   \nfile 2 10 resident resident x\nfile 3 10  # only a comment\n")
        XCTAssertEqual(events, [
            .file(id: 1, size: 10, resident: false, path: "a  b\tc"),
            .file(id: 2, size: 10, resident: true, path: "resident x"),
            .file(id: 3, size: 10, resident: false, path: ""),
        ])
    }

    /// `store` needs an 8-aligned address (one word of one page) and a VALUE; `setmap` a VALUE.
    func testStoreAndSetmapErrors() {
        let unaligned = parseError("vmtrace 1\nproc 1\nstore 1 0x1004 7\n")
        XCTAssertEqual(unaligned?.line, 3)
        XCTAssertTrue(unaligned?.message.contains("not 8-byte aligned") ?? false, unaligned?.message ?? "")
        XCTAssertEqual(parseError("vmtrace 1\nproc 1\nstore 1 0x1000\n")?.line, 3)
        XCTAssertEqual(parseError("vmtrace 1\nproc 1\nstore 2 0x1000 1\n")?.line, 3)
        XCTAssertEqual(parseError("vmtrace 1\nproc 1\nmadvise 1 0x1000 4K setmap\n")?.line, 3)
        XCTAssertEqual(parseError("vmtrace 1\nproc 1\nmadvise 1 0x1000 4K setmap 1 2\n")?.line, 3)
    }

    func testOverlongPathsAndLines() {
        let longPath = parseError("vmtrace 1\nfile 1 10 /" + String(repeating: "a", count: 70_000) + "\n")
        XCTAssertEqual(longPath?.line, 2)
        XCTAssertTrue(longPath?.message.contains("longer than 65535") ?? false)
        let longLine = parseError("vmtrace 1\nproc 1\n#" + String(repeating: "x", count: 2 << 20) + "\n")
        XCTAssertEqual(longLine?.line, 3)
        XCTAssertTrue(longLine?.message.contains("line longer than") ?? false)
    }

    func testRepeatedHeaderIsAccepted() throws {
        XCTAssertEqual(try parse("vmtrace 1\nproc 1\nvmtrace 1\nexit 1\n"), [.proc(pid: 1, threads: 1), .exit(pid: 1)])
    }

    /// Each malformed line: exit code 65, its own line number, and the offending text.
    func testMalformedLinesAreRejectedWithLineNumbers() {
        let cases: [(line: String, message: String)] = [
            ("mmap 1 0x10000 4096 rwz private anon", "bad PROT 'rwz'"),
            ("mmap 1 0x10000 4096 rw private anon", "bad PROT 'rw'"),
            ("mmap 1 0x10000 4096 rwxx private anon", "bad PROT"),
            ("mmap 1 0x10000 4096 wr- private anon", "bad PROT"),
            ("mprotect 1 0x10000 4096 RW-", "bad PROT"),
            ("mmap 1 0x10001 4096 rw- private anon", "address 0x10001 is not page aligned"),
            ("mmap 1 0x10000 100 rw- private anon", "length 100 is not page aligned"),
            ("mmap 1 0x10000 0 rw- private anon", "zero-length range"),
            ("munmap 1 0xfffffffffffff000 8192", "overflows 64 bits"),
            ("mmap 1 0x10000 4096 rw- private anon off=12", "offset 12 is not page aligned"),
            ("mmap 1 0x10000 4096 rw- public anon", "expected private or shared"),
            ("mmap 1 0x10000 4096 rw- private file", "expected anon or file=FID"),
            ("mmap 1 0x10000 4096 rw- private file=9", "file 9 is not declared"),
            ("mmap 1 0x10000 4096 rw- private anon stack stack", "'stack' given twice"),
            ("mmap 1 0x10000 4096 rw- private anon huge", "unknown mmap option 'huge'"),
            ("mmap 1 0x10000 4096 rw- private", "missing anon|file=FID"),
            ("mmap 1 0x10000 4K", "missing PROT"),
            ("frobnicate 1 2", "unknown event 'frobnicate'"),
            ("R 1 0x10", "unknown event 'R'"),
            ("r 1", "missing ADDR"),
            ("r", "missing PID"),
            ("fork 1", "missing CHILD"),
            ("madvise 1 0x1000 4096", "missing ADVICE"),
            ("madvise 1 0x1000 4096 later", "bad ADVICE 'later'"),
            ("r 1 0x10000000000000000", "ADDR '0x10000000000000000' does not fit in 64 bits"),
            ("r 1 18446744073709551616", "does not fit in 64 bits"),
            ("r 1 99999999999999999999999", "does not fit in 64 bits"),
            ("munmap 1 0 17179869184G", "does not fit in 64 bits"),
            ("r 1 0x10 4G", "SIZE '4G' is larger than 4294967295"),
            ("r 4294967296 0x10", "PID '4294967296' is larger than 4294967295"),
            ("r 1 0x10 0", "SIZE must be at least 1"),
            ("r 1 4K", "bad ADDR '4K'"),
            ("r 1 0x", "bad ADDR '0x'"),
            ("r 1 0xg", "bad ADDR '0xg'"),
            ("r 1 12ab", "bad ADDR '12ab'"),
            ("r 1 0x10 8KB", "bad SIZE '8KB'"),
            ("r 1 0x10 8 9", "unexpected '9'"),
            ("peek 1 0x10 8", "peek takes no SIZE"),
            ("r 1 0xffffffffffffffff 2", "runs past the end of the address space"),
            ("r 2 0x10", "process 2 is not declared"),
            ("r 0 0x10", "PID 0"),
            ("proc 1", "process 1 is already running"),
            ("proc 0", "PID 0"),
            ("proc 5 threads=0", "threads=0"),
            ("proc 5 threads=x", "bad threads=N 'x'"),
            ("proc 5 thread=2", "unexpected 'thread=2'"),
            ("threads 1 0", "thread count 0"),
            ("fork 9 10", "fork from unknown process 9"),
            ("fork 1 1", "fork to process 1, which is already running"),
            ("fork 1 0", "PID 0"),
            ("exec 4", "process 4 is not declared"),
            ("file 1 100", "file 1 is already declared"),
            ("vmtrace 2", "unsupported trace version 2"),
        ]
        for (line, message) in cases {
            // The bad line is physical line 6, after a comment and a blank line.
            let text = "vmtrace 1\nfile 1 4096\n# comment\n\nproc 1\n\(line)\nr 1 0x10\n"
            guard let error = parseError(text) else { continue }
            XCTAssertEqual(error.code, .dataError, line)
            XCTAssertEqual(error.exitCode, 65, line)
            XCTAssertEqual(error.line, 6, "\(line): \(error)")
            XCTAssertTrue(error.message.contains(message), "\(line): \(error.message)")
            XCTAssertTrue(error.message.contains("\"\(line)\""), "offending text missing: \(error.message)")
            XCTAssertTrue(error.description.hasPrefix("vmreplay: \(scratch.file("t.txt")):6: "), error.description)
        }
    }

    func testExitedProcessIsRejectedAndItsPidCanBeReused() throws {
        let error = parseError("vmtrace 1\nproc 3\nexit 3\nw 3 0x10\n")
        XCTAssertEqual(error?.line, 4)
        XCTAssertTrue(error?.message.contains("process 3 has exited") ?? false)
        XCTAssertEqual(try parse("vmtrace 1\nproc 3\nexit 3\nproc 3\nw 3 0x10\n").count, 4)
    }

    func testHeaderProblems() {
        let missing = parseError("# comment\nproc 1\n")
        XCTAssertEqual(missing?.line, 2)
        XCTAssertEqual(missing?.exitCode, 65)
        XCTAssertTrue(missing?.message.contains("vmtrace 1") ?? false)
        let version = parseError("vmtrace 2\nproc 1\n")
        XCTAssertEqual(version?.line, 1)
        XCTAssertTrue(version?.message.contains("unsupported trace version 2") ?? false)
        let onlyComments = parseError("# nothing here\n\n")
        XCTAssertEqual(onlyComments?.exitCode, 65)
        XCTAssertTrue(onlyComments?.message.contains("no 'vmtrace 1' header") ?? false)
        let empty = parseError("")
        XCTAssertEqual(empty?.exitCode, 65)
        XCTAssertEqual(empty?.byteOffset, 0)
    }

    func testKeepGoingSkipsAndCountsBadLines() throws {
        let path = scratch.write("k.txt", """
            vmtrace 1
            proc 1
            r 1 0x10
            r 2 0x10
            proc 1
            bogus line
            w 1 0x20 8
            mmap 1 0x1001 4096 rw- private anon
            exit 1
            """)
        let reader = try TraceReader(path: path, options: .init(keepGoing: true))
        let events = try reader.readAll()
        XCTAssertEqual(events, [.proc(pid: 1, threads: 1), .access(Access(kind: .read, pid: 1, address: 0x10)),
                                .access(Access(kind: .write, pid: 1, address: 0x20, size: 8)), .exit(pid: 1)])
        XCTAssertEqual(reader.skippedEvents, 4)
        XCTAssertEqual(reader.skippedErrors.map { $0.line }, [4, 5, 6, 8])
        // Without it, the first bad line stops the reader.
        XCTAssertEqual(expectTraceError(.dataError) { try TraceReader.readAll(path: path) }?.line, 4)
    }

    func testSmallBatchesDeliverEverythingInOrder() throws {
        var text = "vmtrace 1\nproc 1\n"
        for i in 0..<1000 { text += "r 1 \(i * 8)\n" }
        let path = scratch.write("b.txt", text)
        let reader = try TraceReader(path: path, options: .init(batchSize: 7))
        var batch: [TraceEvent] = []
        var all: [TraceEvent] = []
        while try reader.nextBatch(into: &batch) {
            XCTAssertLessThanOrEqual(batch.count, 7)
            all += batch
        }
        XCTAssertTrue(batch.isEmpty)
        XCTAssertEqual(all.count, 1001)
        XCTAssertEqual(all.last, .access(Access(kind: .read, pid: 1, address: 999 * 8)))
        XCTAssertEqual(reader.progress.events, 1001)
        XCTAssertEqual(reader.progress.fileBytesRead, UInt64(text.utf8.count))
        XCTAssertEqual(reader.progress.fileSize, UInt64(text.utf8.count))
        XCTAssertFalse(try reader.nextBatch(into: &batch))
    }

    /// The writer's canonical text: hex addresses, decimal lengths, defaults left out.
    func testWriterPrintsCanonicalText() throws {
        let events: [TraceEvent] = [
            .file(id: 2, size: 8192, resident: true, path: "/a b"),
            .proc(pid: 1, threads: 1),
            .proc(pid: 2, threads: 3),
            .mmap(Mapping(pid: 1, address: 0x10000, length: 8192, protection: [.read, .write], fileID: 2, offset: 4096)),
            .mmap(Mapping(pid: 1, address: 0x20000, length: 4096, protection: [], flags: [.shared, .stack])),
            .access(Access(kind: .kernelWrite, pid: 1, address: 0x10008, size: 1)),
            .access(Access(kind: .write, pid: 1, address: 0, size: 16)),
            .madvise(pid: 1, address: 0x10000, length: 4096, advice: .free),
        ]
        try writeTrace(events, "c.txt")
        XCTAssertEqual(String(decoding: scratch.read("c.txt"), as: UTF8.self), """
            vmtrace 1
            file 2 8192 resident /a b
            proc 1
            proc 2 threads=3
            mmap 1 0x10000 8192 rw- private file=2 off=4096
            mmap 1 0x20000 4096 --- shared anon stack
            kw 1 0x10008
            w 1 0x0 16
            madvise 1 0x10000 4096 free

            """)
        XCTAssertEqual(try TraceReader.readAll(path: scratch.file("c.txt")), events)
    }

    func testWriterRefusesEventsReadersWouldReject() throws {
        let bad: [[TraceEvent]] = [
            [.access(Access(kind: .read, pid: 1, address: 0))],
            [.proc(pid: 1, threads: 1), .access(Access(kind: .read, pid: 1, address: 0, size: 0))],
            [.proc(pid: 1, threads: 1), .munmap(pid: 1, address: 1, length: 4096)],
            [.file(id: 1, size: 0, resident: false, path: TracePath(String(repeating: "a", count: 2 << 20)))],
        ]
        for events in bad {
            for name in ["w.txt", "w.vmt.gz"] {
                let writer = try TraceWriter(path: scratch.file(name))
                XCTAssertEqual(expectTraceError(.dataError) { try writer.write(contentsOf: events) }?.message
                    .hasPrefix("event \(events.count): "), true)
                XCTAssertEqual(scratch.contents(), [])
            }
        }
    }

    func testWriterRefusesPathsTextCannotCarry() throws {
        for path in ["a#b", "line\nbreak", " lead", "trail ", "resident x"] {
            let writer = try TraceWriter(path: scratch.file("p.txt"))
            let error = expectTraceError(.dataError) {
                try writer.write(.file(id: 1, size: 1, resident: false, path: TracePath(path)))
            }
            XCTAssertTrue(error?.message.contains("as text") ?? false)
            XCTAssertFalse(scratch.exists("p.txt"))
        }
        XCTAssertEqual(scratch.contents(), [])
    }
}
