// info's statistics from packed batches: the same figures as event by event (issue 17: info
// no slower than replay).
import XCTest
@testable import VMTrace
@testable import VMTraceLackey

final class TraceStatisticsBatchTests: XCTestCase {
    func testBatchesAndRecentPagesGiveTheSameDistinctPages() {
        // Two processes touch 600 pages each (alternating with a code page, as Lackey traces
        // do), twice over: 2 x (600 + 1) distinct (pid, page) pairs; switching processes at
        // every access must not lose or double any.
        var events: [TraceEvent] = [.proc(pid: 1, threads: 1), .proc(pid: 2, threads: 1)]
        for _ in 0..<2 {
            for page in 0..<600 as Range<UInt64> {
                for pid in [1, 2] as [UInt32] {
                    events.append(.access(Access(kind: .execute, pid: pid, address: 0x400000, size: 4)))
                    events.append(.access(Access(kind: .read, pid: pid, address: 0x1000_0000 + page * 4096 + 8, size: 8)))
                }
            }
        }
        var oneByOne = TraceStatistics()
        for e in events { oneByOne.add(e) }
        var batched = TraceStatistics()
        batched.add(ReplayBatch(events))
        XCTAssertEqual(oneByOne.distinctPages, 1202)
        XCTAssertEqual(batched.distinctPages, 1202)
        XCTAssertEqual(batched.accesses, 4800)
        XCTAssertEqual(batched.events, oneByOne.events)
        XCTAssertEqual(batched.pids, [1, 2])
    }
}
