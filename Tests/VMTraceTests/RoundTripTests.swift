// Property tests: random event sequences of every kind survive every codec path unchanged.

import XCTest
@testable import VMTrace

final class RoundTripTests: TraceTestCase {
    /// text → binary → text, and binary.gz → text, for many seeds: the same events each time.
    func testRandomSequencesSurviveEveryCodec() throws {
        for seed in UInt64(1)...60 {
            var generator = RandomTraceGenerator(seed: seed)
            let events = generator.events(Int(50 + seed * 7))
            let text = try writeTrace(events, "a.txt")
            XCTAssertEqual(try TraceReader.readAll(path: text), events, "seed \(seed): text")

            _ = try TraceConversion.convert(input: text, output: scratch.file("b.vmt"))
            XCTAssertEqual(try TraceReader.readAll(path: scratch.file("b.vmt")), events, "seed \(seed): binary")
            _ = try TraceConversion.convert(input: scratch.file("b.vmt"), output: scratch.file("c.txt"))
            XCTAssertEqual(try TraceReader.readAll(path: scratch.file("c.txt")), events, "seed \(seed): text again")
            XCTAssertEqual(scratch.read("a.txt"), scratch.read("c.txt"), "seed \(seed): canonical text differs")

            try writeTrace(events, "d.vmt.gz", level: 1)
            XCTAssertEqual(try TraceReader(path: scratch.file("d.vmt.gz")).format, TraceFormat(encoding: .binary, gzip: true))
            _ = try TraceConversion.convert(input: scratch.file("d.vmt.gz"), output: scratch.file("e.txt.gz"))
            XCTAssertEqual(try TraceReader.readAll(path: scratch.file("e.txt.gz")), events, "seed \(seed): gzip")
            XCTAssertEqual(scratch.contents(), ["a.txt", "b.vmt", "c.txt", "d.vmt.gz", "e.txt.gz"])
        }
    }

    /// The binary encoder's state (pid table, previous pid, repeated deltas) stays in step with
    /// the decoder across batch and buffer boundaries.
    func testLongBinaryTraceAcrossBufferBoundaries() throws {
        var generator = RandomTraceGenerator(seed: 99)
        let events = generator.events(150_000)
        let path = try writeTrace(events, "long.vmt")
        XCTAssertGreaterThan(scratch.read("long.vmt").count, InputWindow.defaultCapacity)
        XCTAssertEqual(try TraceReader.readAll(path: path), events)
    }

    func testEmptyTraceRoundTrips() throws {
        for name in ["e.txt", "e.vmt", "e.vmt.gz", "e.txt.gz"] {
            try writeTrace([], name)
            XCTAssertEqual(try TraceReader.readAll(path: scratch.file(name)), [], name)
        }
    }

    func testOutputFormatFollowsTheName() {
        let cases: [(String, TraceFormat.Encoding, Bool)] = [
            ("a.vmt", .binary, false), ("a.vmt.gz", .binary, true), ("a.txt", .text, false),
            ("a.txt.gz", .text, true), ("a.vmtrace", .text, false), ("trace", .text, false),
            ("x.gz", .text, true), ("-", .text, false),
        ]
        for (name, encoding, gzip) in cases {
            XCTAssertEqual(TraceFormat(outputPath: name), TraceFormat(encoding: encoding, gzip: gzip), name)
        }
    }
}
