// A CR3 load's flush clears only the sets a fill made non-empty since the last flush
// (TLB.occupiedSets): whatever the history of fills, invalidations and global entries, a flush
// must leave the TLB exactly as empty (or, keeping globals, exactly as full) as clearing
// everything would.
@testable import X86MMU
import XCTest

final class TLBFlushTrackingTests: XCTestCase {
    func testEveryFlushLeavesWhatAFullClearWould() {
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        func next(_ n: UInt64) -> UInt64 {
            state ^= state << 13; state ^= state >> 7; state ^= state << 17
            return state % n
        }
        let geometry = TLBGeometry(entries: 16, ways: 2) // 8 sets
        let tracked = TLB(geometry)
        for round in 0..<400 {
            // Fills (some global), and invalidations that empty sets which later fills reuse:
            // the list of occupied sets gets duplicates and, past 8 of them, overflows.
            for _ in 0..<Int(next(40)) {
                let vpn = next(64)
                if next(4) == 0 {
                    tracked.invalidate(vpn)
                } else {
                    let global = next(10) == 0 ? PTE.global : 0
                    tracked.fill(vpn, (vpn << 12) | PTE.present | global)
                }
            }
            let keepGlobal = next(2) == 0
            let before = (0..<geometry.sets).map { set in
                tracked.pages(inSet: set).filter { vpn in
                    keepGlobal && tracked.lookupValueWithoutTouching(vpn).map { $0 & PTE.global != 0 } == true
                }
            }
            tracked.flush(keepGlobal: keepGlobal)
            for set in 0..<geometry.sets {
                XCTAssertEqual(tracked.pages(inSet: set), before[set],
                               "round \(round), set \(set), keepGlobal \(keepGlobal)")
            }
        }
    }
}

extension TLB {
    /// The cached value for `vpn` without changing recency (test helper).
    func lookupValueWithoutTouching(_ vpn: UInt64) -> UInt64? {
        slot(of: vpn).map { slots[$0 + 1] }
    }
}
