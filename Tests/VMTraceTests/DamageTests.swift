// Damaged input: truncated and corrupt gzip, empty files, hostile binary records. Each gives
// its error with a byte offset and exit code 65, and `convert` leaves no output behind.

import Foundation
import XCTest
@testable import VMTrace
@testable import VMWorkloads

final class DamageTests: TraceTestCase {
    private func sampleEvents(_ accesses: Int = 20_000) -> [TraceEvent] {
        Array(SyntheticWorkload(accesses: accesses, seed: 3))
    }

    /// Converting `input` must fail with exit code 65 and leave the directory as it was.
    @discardableResult
    private func expectConvertFails(_ input: String, file: StaticString = #filePath, line: UInt = #line) -> TraceError? {
        let before = scratch.contents()
        let error = expectTraceError(.dataError, file: file, line: line) {
            try TraceConversion.convert(input: input, output: scratch.file("out.vmt.gz"))
        }
        XCTAssertEqual(scratch.contents(), before, "convert left files behind", file: file, line: line)
        XCTAssertFalse(scratch.exists("out.vmt.gz"), file: file, line: line)
        return error
    }

    func testGzipCutInHalf() throws {
        try writeTrace(sampleEvents(), "t.txt.gz")
        let bytes = scratch.read("t.txt.gz")
        let half = Array(bytes.prefix(bytes.count / 2))
        let path = scratch.write("half.txt.gz", bytes: half)
        let error = expectTraceError(.dataError) { try TraceReader.readAll(path: path) }
        XCTAssertEqual(error?.byteOffset, UInt64(half.count))
        XCTAssertTrue(error?.message.contains("truncated") ?? false, "\(String(describing: error))")
        XCTAssertEqual(error?.description.hasPrefix("vmreplay: \(path): byte \(half.count): gzip: "), true)
        expectConvertFails(path)
    }

    func testGzipWithAFlippedCRCByte() throws {
        try writeTrace(sampleEvents(), "t.vmt.gz")
        var bytes = scratch.read("t.vmt.gz")
        bytes[bytes.count - 6] ^= 0x40  // inside the CRC-32 of the trailer
        let path = scratch.write("crc.vmt.gz", bytes: bytes)
        let error = expectTraceError(.dataError) { try TraceReader.readAll(path: path) }
        XCTAssertNotNil(error?.byteOffset)
        XCTAssertTrue(error?.message.contains("corrupt") ?? false, "\(String(describing: error))")
        expectConvertFails(path)
    }

    func testGzipWithAFlippedDataByte() throws {
        try writeTrace(sampleEvents(), "t.txt.gz")
        var bytes = scratch.read("t.txt.gz")
        bytes[bytes.count / 3] ^= 0xff
        let path = scratch.write("flip.txt.gz", bytes: bytes)
        // Depending on where the flip lands, zlib reports bad data, or the CRC check fails,
        // or the garbage inflates into a line the parser rejects: never a silent success.
        let error = expectConvertFails(path)
        XCTAssertNotNil(error.flatMap { $0.byteOffset ?? $0.line.map(UInt64.init) })
    }

    func testEmptyFile() {
        let path = scratch.write("empty.txt", "")
        let error = expectTraceError(.dataError) { try TraceReader.readAll(path: path) }
        XCTAssertEqual(error?.byteOffset, 0)
        XCTAssertTrue(error?.message.contains("empty") ?? false)
        expectConvertFails(path)
    }

    func testMissingInputIsExit66() {
        let error = expectTraceError(.noInput) { try TraceReader(path: scratch.file("nope.txt")) }
        XCTAssertEqual(error?.exitCode, 66)
        XCTAssertEqual(expectTraceError(.noInput) { try TraceReader(path: scratch.path) }?.exitCode, 66)
        XCTAssertEqual(expectTraceError(.noInput) {
            try TraceConversion.convert(input: scratch.file("nope.txt"), output: scratch.file("o.txt"))
        }?.exitCode, 66)
        XCTAssertEqual(scratch.contents(), [])
    }

    func testUncreatableOutputIsExit73AndSameFileIs64() throws {
        let input = try writeTrace([.proc(pid: 1, threads: 1)], "in.txt")
        XCTAssertEqual(expectTraceError(.cannotCreate) {
            try TraceConversion.convert(input: input, output: scratch.file("no/such/dir/out.txt"))
        }?.exitCode, 73)
        XCTAssertEqual(expectTraceError(.usage) {
            try TraceConversion.convert(input: input, output: scratch.path + "/./in.txt")
        }?.exitCode, 64)
        XCTAssertEqual(scratch.contents(), ["in.txt"])
    }

    func testConcatenatedGzipMembersAreOneTrace() throws {
        let a = "vmtrace 1\nproc 1\nr 1 0x10\n"
        let b = "w 1 0x20 8\nexit 1\n"
        let pa = scratch.write("a.txt", a), pb = scratch.write("b.txt", b)
        // Compress each part as its own gzip member (through the writer's deflater).
        func gzip(_ path: String, _ out: String) throws -> [UInt8] {
            let sink = try OutputFile(path: scratch.file(out))
            let z = try GzipOutput(sink: sink.output, name: out)
            let data = scratch.read((path as NSString).lastPathComponent)
            try data.withUnsafeBytes { try z.write($0) }
            try z.finish()
            try sink.commit()
            return scratch.read(out)
        }
        let joined = try gzip(pa, "a.gz") + gzip(pb, "b.gz")
        let path = scratch.write("ab.txt.gz", bytes: joined)
        XCTAssertEqual(try TraceReader.readAll(path: path), [
            .proc(pid: 1, threads: 1), .access(Access(kind: .read, pid: 1, address: 0x10)),
            .access(Access(kind: .write, pid: 1, address: 0x20, size: 8)), .exit(pid: 1),
        ])
        // Garbage after the last member is damage, not an end of trace.
        let trailing = scratch.write("junk.txt.gz", bytes: joined + [0x00, 0x01])
        let error = expectTraceError(.dataError) { try TraceReader.readAll(path: trailing) }
        XCTAssertEqual(error?.byteOffset, UInt64(joined.count))
    }

    // MARK: - Binary records

    private let header: [UInt8] = [0x89, 0x56, 0x4D, 0x54, 0x0D, 0x0A, 0x1A, 0x0A, 1, 0]
    /// `proc 1`
    private let proc1: [UInt8] = [0x02, 0x01, 0x01]

    private func binaryError(_ body: [UInt8], file: StaticString = #filePath, line: UInt = #line) -> TraceError? {
        let path = scratch.write("bad.vmt", bytes: header + body)
        let error = expectTraceError(.dataError, file: file, line: line) { try TraceReader.readAll(path: path) }
        expectConvertFails(path, file: file, line: line)
        return error
    }

    func testBinaryBadVarint() {
        // An access with pid (P), delta (D) and a delta varint of 11 bytes.
        let tag: UInt8 = 0x80 | 0x08 | 0x04
        let body = proc1 + [tag, 0x01] + [UInt8](repeating: 0xff, count: 10) + [0x01] + [0x00, 0x02]
        let error = binaryError(body)
        XCTAssertEqual(error?.byteOffset, UInt64(header.count + proc1.count + 2))
        XCTAssertTrue(error?.message.contains("bad varint") ?? false, "\(String(describing: error))")
        // Ten bytes whose last one overflows 64 bits.
        let overflow = proc1 + [tag, 0x01] + [UInt8](repeating: 0xff, count: 9) + [0x02] + [0x00, 0x02]
        XCTAssertTrue(binaryError(overflow)?.message.contains("bad varint") ?? false)
    }

    func testBinaryUnknownTagAndKind() {
        let unknown = binaryError(proc1 + [0x42])
        XCTAssertEqual(unknown?.byteOffset, UInt64(header.count + proc1.count))
        XCTAssertTrue(unknown?.message.contains("unknown record tag 0x42") ?? false)
        XCTAssertTrue(binaryError(proc1 + [0xF8, 0x01, 0x00])?.message.contains("unknown record tag 0xf8") ?? false)
    }

    func testBinaryTruncatedRecordAndMissingEnd() {
        let truncated = binaryError(proc1 + [0x07, 0x01, 0x80])
        XCTAssertEqual(truncated?.byteOffset, UInt64(header.count + proc1.count))
        XCTAssertTrue(truncated?.message.contains("truncated record") ?? false)
        let noEnd = binaryError(proc1)
        XCTAssertEqual(noEnd?.byteOffset, UInt64(header.count + proc1.count))
        XCTAssertTrue(noEnd?.message.contains("end record") ?? false)
        XCTAssertTrue(binaryError(proc1 + [0x00, 0x05])?.message.contains("counts 5 records") ?? false)
        XCTAssertTrue(binaryError(proc1 + [0x00, 0x01, 0x0D])?.message.contains("after the end record") ?? false)
        XCTAssertEqual(binaryError([])?.message.contains("end record"), true)
    }

    func testBinaryAbsurdLengthsAndValues() {
        // file 1 0 with a path length of 70,000 bytes.
        let longPath = binaryError([0x01, 0x01, 0x00, 0x00, 0xF0, 0xA2, 0x04])
        XCTAssertEqual(longPath?.byteOffset, UInt64(header.count + 4))
        XCTAssertTrue(longPath?.message.contains("path length 70000") ?? false)
        // A path length larger than the rest of the file.
        XCTAssertTrue(binaryError([0x01, 0x01, 0x00, 0x00, 0x10, 0x41])?.message.contains("truncated") ?? false)
        // A path that is not UTF-8.
        XCTAssertTrue(binaryError([0x01, 0x01, 0x00, 0x00, 0x01, 0xFF, 0x00, 0x01])?.message.contains("UTF-8") ?? false)
        // A pid over 32 bits.
        XCTAssertTrue(binaryError([0x02, 0x80, 0x80, 0x80, 0x80, 0x10, 0x01])?.message.contains("larger than") ?? false)
        // Unknown mmap flag bits, file flags, protection and advice bytes.
        XCTAssertTrue(binaryError(proc1 + [0x07, 0x01, 0x00, 0x80, 0x20, 0x80, 0x10])?.message.contains("mmap flag") ?? false)
        XCTAssertTrue(binaryError([0x01, 0x01, 0x00, 0x02, 0x00])?.message.contains("file flags") ?? false)
        XCTAssertTrue(binaryError(proc1 + [0x09, 0x01, 0x00, 0x80, 0x20, 0x08])?.message.contains("protection") ?? false)
        XCTAssertTrue(binaryError(proc1 + [0x0A, 0x01, 0x00, 0x80, 0x20, 0x08])?.message.contains("advice") ?? false)
        // A setmap (advice byte 7) without its VALUE, a store cut short, a misaligned store.
        XCTAssertTrue(binaryError(proc1 + [0x0A, 0x01, 0x00, 0x80, 0x20, 0x07])?.message.contains("truncated") ?? false)
        XCTAssertTrue(binaryError(proc1 + [0x0E, 0x01, 0x08])?.message.contains("truncated") ?? false)
        XCTAssertTrue(binaryError(proc1 + [0x0E, 0x01, 0x04, 0x01])?.message.contains("8-byte aligned") ?? false)
        // An access before any pid was given.
        XCTAssertTrue(binaryError([0x80, 0x00, 0x00])?.message.contains("without a pid") ?? false)
    }

    func testBinaryHeaderProblems() {
        let version = scratch.write("v.vmt", bytes: Array(header.prefix(8)) + [2, 0, 0x00, 0x00])
        let error = expectTraceError(.dataError) { try TraceReader.readAll(path: version) }
        XCTAssertEqual(error?.byteOffset, 8)
        XCTAssertTrue(error?.message.contains("unsupported .vmt version 2") ?? false)
        let short = scratch.write("s.vmt", bytes: Array(header.prefix(9)))
        XCTAssertTrue(expectTraceError(.dataError) { try TraceReader.readAll(path: short) }?.message.contains("truncated header") ?? false)
    }

    /// Semantic errors in binary traces carry the record's offset and its text form, and
    /// `--keep-going` skips them.
    func testBinaryValidationErrorsAndKeepGoing() throws {
        // proc 1; r 2 0x10 (undeclared); r 1 0x10; end of 3 records. Access tag 0x8C = read,
        // pid and delta given, size 1; 0x20 = zigzag(0x10).
        let bytes = header + proc1 + [0x8C, 0x02, 0x20] + [0x8C, 0x01, 0x20] + [0x00, 0x03]
        let path = scratch.write("sem.vmt", bytes: bytes)
        let error = expectTraceError(.dataError) { try TraceReader.readAll(path: path) }
        XCTAssertEqual(error?.byteOffset, UInt64(header.count + 3))
        XCTAssertTrue(error?.message.contains("process 2 is not declared") ?? false)
        XCTAssertTrue(error?.message.contains("\"r 2 0x10\"") ?? false, "\(String(describing: error))")
        let reader = try TraceReader(path: path, options: .init(keepGoing: true))
        XCTAssertEqual(try reader.readAll(), [.proc(pid: 1, threads: 1), .access(Access(kind: .read, pid: 1, address: 0x10))])
        XCTAssertEqual(reader.skippedEvents, 1)
    }

    /// Random corruption of a binary trace never traps: every outcome is events or a TraceError.
    func testRandomBinaryCorruptionNeverTraps() throws {
        var g = RandomTraceGenerator(seed: 5)
        try writeTrace(g.events(300), "good.vmt")
        let good = scratch.read("good.vmt")
        var rng = Xoshiro256StarStar(seed: 11)
        for round in 0..<300 {
            var bytes = good
            for _ in 0..<(1 + rng.below(4)) {
                let i = Int(rng.below(UInt64(bytes.count)))
                bytes[i] = UInt8(truncatingIfNeeded: rng.next())
            }
            if rng.percent(30) { bytes = Array(bytes.prefix(Int(rng.below(UInt64(bytes.count))))) }
            let path = scratch.write("r\(round % 4).vmt", bytes: bytes)
            do {
                _ = try TraceReader.readAll(path: path, options: .init(keepGoing: rng.percent(50)))
            } catch let error as TraceError {
                XCTAssertEqual(error.exitCode, 65, "\(error)")
            }
        }
    }

    /// Random corruption of a text trace never traps either.
    func testRandomTextCorruptionNeverTraps() throws {
        var g = RandomTraceGenerator(seed: 6)
        try writeTrace(g.events(300), "good.txt")
        let good = scratch.read("good.txt")
        let alphabet = Array("0123456789abcdefxKMG rwx-#\n\t=proc file mmap fork".utf8) + [0x00, 0xff, 0x1f, 0x8b]
        var rng = Xoshiro256StarStar(seed: 12)
        for round in 0..<300 {
            var bytes = good
            for _ in 0..<(1 + rng.below(6)) {
                let i = Int(rng.below(UInt64(bytes.count)))
                bytes[i] = alphabet[Int(rng.below(UInt64(alphabet.count)))]
            }
            let path = scratch.write("t\(round % 4).txt", bytes: bytes)
            do {
                _ = try TraceReader.readAll(path: path, options: .init(keepGoing: rng.percent(50)))
            } catch let error as TraceError {
                XCTAssertEqual(error.exitCode, 65, "\(error)")
            }
        }
    }

    // MARK: - The built command

    /// The built `vmreplay`, next to the test bundle in the products directory.
    private func executable() throws -> URL {
        let candidates = [
            URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("vmreplay"),
            Bundle.main.bundleURL.appendingPathComponent("vmreplay"),
        ]
        guard let found = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0.path) }) else {
            throw XCTSkip("vmreplay executable not found next to the test bundle")
        }
        return found
    }

    /// `vmreplay convert` on a damaged file: exit 65, the byte offset on stderr, no output.
    func testConvertCommandOnDamagedInput() throws {
        let executable = try executable()
        try writeTrace(sampleEvents(), "t.txt.gz")
        let bytes = scratch.read("t.txt.gz")
        let path = scratch.write("cut.txt.gz", bytes: Array(bytes.prefix(bytes.count / 2)))
        let process = Process()
        process.executableURL = executable
        process.arguments = ["convert", path, scratch.file("out.vmt.gz")]
        let stderr = Pipe()
        process.standardError = stderr
        try process.run()
        let message = String(decoding: stderr.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        XCTAssertEqual(process.terminationStatus, 65)
        XCTAssertTrue(message.hasPrefix("vmreplay: \(path): byte \(bytes.count / 2): gzip: truncated"), message)
        XCTAssertEqual(scratch.contents(), ["cut.txt.gz", "t.txt.gz"])

        let usage = Process()
        usage.executableURL = executable
        usage.arguments = ["convert", path]
        usage.standardError = Pipe()
        try usage.run()
        usage.waitUntilExit()
        XCTAssertEqual(usage.terminationStatus, 64)
    }

    /// An interrupted command removes its temporary output file.
    func testInterruptedCommandLeavesNoFile() throws {
        let executable = try executable()
        for sig in [SIGINT, SIGTERM] {
            let process = Process()
            process.executableURL = executable
            process.arguments = ["gen", "synthetic", "--accesses", "1G", "-o", scratch.file("big.vmt.gz")]
            try process.run()
            let deadline = Date().addingTimeInterval(30)
            while scratch.contents().isEmpty && Date() < deadline { usleep(10_000) }
            XCTAssertEqual(scratch.contents().count, 1, "the temporary file should exist while writing")
            XCTAssertTrue(scratch.contents().first?.hasPrefix(".big.vmt.gz.tmp-") ?? false)
            kill(process.processIdentifier, sig)
            process.waitUntilExit()
            XCTAssertEqual(process.terminationReason, .uncaughtSignal)
            XCTAssertEqual(process.terminationStatus, sig)
            XCTAssertEqual(scratch.contents(), [])
        }
    }
}
