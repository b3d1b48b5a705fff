// `info`'s distinct-page count keeps ranges, not pages (issue 16 item 8): exact on large and
// random accesses, with memory that follows the ranges.
@testable import VMTrace
import XCTest

final class DistinctPagesTests: XCTestCase {
    func access(_ pid: UInt32, _ address: UInt64, _ size: UInt32) -> TraceEvent {
        .access(Access(kind: .read, pid: pid, address: address, size: size))
    }

    func testTwentyFourGiBReadsCountTheirUnion() {
        var stats = TraceStatistics()
        // Reads of 2^32-1 bytes from page 0x10000 + 7i, i < 20: each spans 2^20 pages (the
        // last byte is in page first + 2^20 - 1), the union 2^20 + 19*7. A set of pages held
        // all 1,048,709 of them (813 MB and 16 s in a release build for this trace).
        for i in 0..<20 { stats.add(access(1, 0x1000_0000 + UInt64(i) * 7 * 4096, .max)) }
        XCTAssertEqual(stats.distinctPages, 1_048_576 + 133)
        // Another process's pages count separately; the top page of the address space too,
        // and an access wrapping past it touches its first page only.
        stats.add(access(2, 0x1000_0000, 1))
        stats.add(access(2, UInt64.max - 4095, 4096))
        stats.add(access(2, UInt64.max - 10, 100))
        XCTAssertEqual(stats.distinctPages, 1_048_576 + 133 + 2)
    }

    func testRandomAccessesMatchASetOfPages() {
        var generator = SystemRandomNumberGenerator()
        for round in 0..<20 {
            var stats = TraceStatistics()
            var reference = Set<[UInt64]>()
            // Enough accesses to merge the pending ranges many times (every 4096).
            for _ in 0..<(round < 10 ? 300 : 20_000) {
                let pid = UInt32.random(in: 1...3, using: &generator)
                let address = UInt64.random(in: 0..<(1 << 26), using: &generator)
                let size = UInt32.random(in: 1...40_000, using: &generator)
                stats.add(access(pid, address, size))
                for page in address / 4096...(address + UInt64(size) - 1) / 4096 { reference.insert([UInt64(pid), page]) }
            }
            XCTAssertEqual(stats.distinctPages, reference.count, "round \(round)")
        }
    }

    /// Small accesses set chunk bits, large ones (over two 64-page chunks) become ranges; the
    /// count is their union: mixed sizes over a small region overlap both ways.
    func testChunkBitsAndRangesCountTheirUnion() {
        var generator = SystemRandomNumberGenerator()
        for round in 0..<10 {
            var stats = TraceStatistics()
            var batchStats = TraceStatistics()
            var events: [TraceEvent] = []
            var reference = Set<[UInt64]>()
            for _ in 0..<5_000 {
                let pid = UInt32.random(in: 1...2, using: &generator)
                let address = UInt64.random(in: 0..<(1 << 24), using: &generator)
                let large = Bool.random(using: &generator) && Int.random(in: 0..<8, using: &generator) == 0
                let size = large ? UInt32.random(in: 1...(1 << 21), using: &generator)
                                 : UInt32.random(in: 1...300_000, using: &generator)
                let event = access(pid, address, size)
                stats.add(event)
                events.append(event)
                for page in address / 4096...(address + UInt64(size) - 1) / 4096 { reference.insert([UInt64(pid), page]) }
            }
            batchStats.add(ReplayBatch(events))
            XCTAssertEqual(stats.distinctPages, reference.count, "round \(round)")
            XCTAssertEqual(batchStats.distinctPages, reference.count, "round \(round), batched")
            XCTAssertEqual(batchStats.accesses, 5_000)
        }
    }
}
