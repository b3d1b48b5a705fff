import XCTest
import X86MMU

/// Lookup order, LRU through the MMU, counters and A/D bits.
final class MMUTranslateTests: XCTestCase {
    func testScriptedSequenceCounters() {
        // dTLB and iTLB: 1 set of 2; STLB: 1 set of 4. A, B, C pre-dirtied (no assists).
        let a: UInt64 = 0x1000, b: UInt64 = 0x2000, c: UInt64 = 0x3000
        let ad = PTE.accessed | PTE.dirty
        let t = table([(a, 10, userRW | ad), (b, 11, userRW | ad), (c, 12, userRW | ad)])
        let m = mmu(config(dtlb: (2, 2), itlb: (2, 2), stlb: (4, 4)), t)
        let script: [(UInt64, MMUAccess, UInt64)] = [
            (a, .read, 10),  // 1: dTLB miss, STLB miss, walk → dTLB [A], STLB [A]
            (a, .read, 10),  // 2: dTLB hit
            (b, .write, 11),  // 3: dTLB miss, STLB miss, walk → dTLB [B A], STLB [B A]
            (c, .read, 12),  // 4: misses, walk → dTLB [C B] (A evicted), STLB [C B A]
            (a, .read, 10),  // 5: dTLB miss, STLB hit → dTLB [A C] (B evicted)
            (b, .read, 11),  // 6: dTLB miss, STLB hit → dTLB [B A]
            (a, .execute, 10),  // 7: iTLB miss, STLB hit → iTLB [A]
            (a, .execute, 10),  // 8: iTLB hit
            (a | 0xFFF, .read, 10),  // 9: same page, dTLB hit
        ]
        for (i, (va, access, frame)) in script.enumerated() {
            XCTAssertEqual(m.translate(va, access, user: true), .ok(frame: frame), "step \(i + 1)")
        }
        var expected = MMUCounters()
        expected.dtlbHits = 2  // steps 2, 9
        expected.dtlbMisses = 5  // steps 1, 3, 4, 5, 6
        expected.itlbHits = 1  // step 8
        expected.itlbMisses = 1  // step 7
        expected.stlbHits = 3  // steps 5, 6, 7
        expected.stlbMisses = 3  // steps 1, 3, 4
        expected.walks = 3  // one per STLB miss
        expected.flushes = 1  // the activate
        XCTAssertEqual(m.counters, expected)

        m.resetCounters()
        XCTAssertEqual(m.counters, MMUCounters())
        XCTAssertEqual(m.translate(b, .read, user: true), .ok(frame: 11))  // TLBs survive a reset
        XCTAssertEqual(m.counters.dtlbHits, 1)
    }

    func testDTLBSetMappingThroughMMU() {
        // dTLB 4 entries, 2 ways → 2 sets: pages 0, 2, 4 in set 0, page 1 in set 1. Big STLB.
        let t = table((0..<5).map { (UInt64($0) * page, 100 + UInt64($0), userRW) })
        let m = mmu(config(dtlb: (4, 2), stlb: (16, 4)), t)
        for p: UInt64 in [0, 2, 1, 4] { _ = m.translate(p * page, .read, user: true) }  // 4 misses; 4 evicts 0
        XCTAssertEqual(m.counters.dtlbMisses, 4)
        for p: UInt64 in [2, 1, 4] { _ = m.translate(p * page, .read, user: true) }  // all still cached
        XCTAssertEqual(m.counters.dtlbHits, 3)
        XCTAssertEqual(m.translate(0, .read, user: true), .ok(frame: 100))  // 0 was the LRU of set 0
        XCTAssertEqual(m.counters.dtlbMisses, 5)
        XCTAssertEqual(m.counters.stlbHits, 1)  // ...but the STLB still had it
        XCTAssertEqual(m.counters.walks, 4)
    }

    func testWalkSetsAccessedAndDirty() {
        let t = table([(0x1000, 1, userRW), (0x2000, 2, userRW)])
        let m = mmu(MMUConfig(), t)
        _ = m.translate(0x1000, .read, user: true)
        XCTAssertEqual(t.pte(at: 0x1000), PTE(frame: 1, flags: userRW | PTE.accessed))  // A only
        _ = m.translate(0x2000, .write, user: true)
        XCTAssertEqual(t.pte(at: 0x2000), PTE(frame: 2, flags: userRW | PTE.accessed | PTE.dirty))
        XCTAssertEqual(m.counters.dirtyAssists, 0)  // a write that walks sets D itself
    }

    func testDirtyAssistOnL1Hit() {
        let t = table([(0x1000, 1, userRW)])
        let m = mmu(MMUConfig(), t)
        XCTAssertEqual(m.translate(0x1000, .read, user: true), .ok(frame: 1))  // walk 1, caches D=0
        XCTAssertEqual(m.translate(0x1000, .write, user: true), .ok(frame: 1))  // hit, D=0 → assist, walk 2
        XCTAssertTrue(t.pte(at: 0x1000)!.isDirty)
        XCTAssertEqual(m.translate(0x1000, .write, user: true), .ok(frame: 1))  // hit with D=1: no walk
        XCTAssertEqual(m.counters.dirtyAssists, 1)
        XCTAssertEqual(m.counters.walks, 2)
        XCTAssertEqual(m.counters.dtlbHits, 2)  // the assisted write still hit
        XCTAssertEqual(m.counters.dtlbMisses, 1)
    }

    func testDirtyAssistOnSTLBHit() {
        // dTLB of 1 entry: reading B evicts A from it, but the STLB keeps A (clean).
        let t = table([(0x1000, 1, userRW), (0x2000, 2, userRW)])
        let m = mmu(config(dtlb: (1, 1), stlb: (4, 4)), t)
        _ = m.translate(0x1000, .read, user: true)  // walk 1
        _ = m.translate(0x2000, .read, user: true)  // walk 2
        XCTAssertEqual(m.translate(0x1000, .write, user: true), .ok(frame: 1))  // STLB hit, D=0 → walk 3
        XCTAssertEqual(m.counters.stlbHits, 1)
        XCTAssertEqual(m.counters.dirtyAssists, 1)
        XCTAssertEqual(m.counters.walks, 3)
        // The assist refilled both levels with D=1: the next write hits the dTLB, no walk.
        _ = m.translate(0x1000, .write, user: true)
        XCTAssertEqual(m.counters.walks, 3)
        XCTAssertEqual(m.counters.dtlbHits, 1)
    }

    func testDirtyAssistWalkSeesTheCurrentPTE() {
        // The OS write-protects the page without invlpg: the stale entry still says RW, but the
        // assist walks memory and faults there (P|W|U), as hardware would.
        let t = table([(0x1000, 1, userRW)])
        let m = mmu(MMUConfig(), t)
        _ = m.translate(0x1000, .read, user: true)
        t.updatePTE(at: 0x1000) { $0.raw &= ~PTE.writable }
        XCTAssertEqual(m.translate(0x1000, .write, user: true), .fault(errorCode: 0x07))
        XCTAssertEqual(m.counters.dirtyAssists, 1)
        XCTAssertEqual(m.counters.walks, 2)
        XCTAssertFalse(t.pte(at: 0x1000)!.isDirty)
    }
}
