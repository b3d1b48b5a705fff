// The synthetic workload: deterministic, valid, the requested number of accesses, with the
// locality that makes the binary form small.

import XCTest
@testable import VMTrace
@testable import VMWorkloads

final class SyntheticWorkloadTests: TraceTestCase {
    func testSameSeedSameTraceOtherSeedOtherTrace() {
        let a = Array(SyntheticWorkload(accesses: 5000, seed: 9))
        XCTAssertEqual(a, Array(SyntheticWorkload(accesses: 5000, seed: 9)))
        XCTAssertNotEqual(a, Array(SyntheticWorkload(accesses: 5000, seed: 10)))
    }

    /// Known values of the generators (SplitMix64's published test vector for seed 1234567).
    func testPRNGsAreTheStandardOnes() {
        var s = SplitMix64(seed: 1_234_567)
        XCTAssertEqual([s.next(), s.next(), s.next()],
                       [6_457_827_717_110_365_317, 3_203_168_211_198_807_973, 9_817_491_932_198_370_423])
        var x = Xoshiro256StarStar(seed: 1)
        var y = Xoshiro256StarStar(seed: 1)
        XCTAssertEqual(x.next(), y.next())
        for bound: UInt64 in [1, 2, 7, 1000, .max] {
            XCTAssertLessThan(x.below(bound), bound)
        }
    }

    func testTraceIsValidAndHasEveryIngredient() throws {
        let workload = SyntheticWorkload(accesses: 200_000, seed: 1, processes: 3, forks: 2)
        var validator = TraceValidator()
        var stats = TraceStatistics()
        for event in workload {
            XCTAssertNil(validator.check(event), "\(event)")
            stats.add(event)
        }
        XCTAssertEqual(stats.accesses, 200_000)
        for keyword in ["file", "proc", "fork", "mmap", "madvise", "threads", "drop_caches", "exit",
                        "r", "w", "x", "kr", "kw"] {
            XCTAssertGreaterThan(stats.count(keyword), 0, keyword)
        }
        XCTAssertEqual(stats.count("fork"), 2)
        XCTAssertEqual(stats.pids.count, 5)
        // Locality: far fewer distinct pages than accesses.
        XCTAssertLessThan(stats.distinctPages, 20_000)
    }

    /// The acceptance figure at a small scale: .vmt.gz at most half of .txt.gz.
    func testBinaryGzipIsAtMostHalfOfTextGzip() throws {
        let workload = SyntheticWorkload(accesses: 200_000, seed: 7)
        let writerText = try TraceWriter(path: scratch.file("s.txt.gz"))
        try workload.write(to: writerText)
        try writerText.finish()
        let writerBinary = try TraceWriter(path: scratch.file("s.vmt.gz"))
        try workload.write(to: writerBinary)
        try writerBinary.finish()
        let text = scratch.read("s.txt.gz").count, binary = scratch.read("s.vmt.gz").count
        XCTAssertLessThanOrEqual(binary * 2, text, "vmt.gz \(binary) bytes, txt.gz \(text) bytes")
    }

    func testStatisticsOfASmallTrace() throws {
        var stats = TraceStatistics()
        let events = try parse("""
            vmtrace 1
            file 1 4096
            proc 1
            proc 7
            mmap 1 0x1000 8K rw- private anon
            mmap 7 0x1000 4K rw- private file=1
            r 1 0x1ffe 4
            w 7 0x1000
            w 7 0x1001
            peek 1 0x5000
            """)
        events.forEach { stats.add($0) }
        XCTAssertEqual(stats.events, 9)
        XCTAssertEqual(stats.pids, [1, 7])
        XCTAssertEqual(stats.files, 1)
        XCTAssertEqual(stats.mappedBytes, 12288)
        XCTAssertEqual(stats.accesses, 4)
        XCTAssertEqual(stats.count("w"), 2)
        XCTAssertEqual(stats.count("mmap"), 2)
        XCTAssertEqual(stats.minAddress, 0x1000)
        XCTAssertEqual(stats.maxAddress, 0x5000)
        // (1, page 1), (1, page 2), (7, page 1), (1, page 5)
        XCTAssertEqual(stats.distinctPages, 4)
    }
}
