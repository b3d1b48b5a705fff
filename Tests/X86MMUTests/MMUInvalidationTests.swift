import XCTest
import X86MMU

/// CR3 loads, invlpg, full flushes and the watch bit.
final class MMUInvalidationTests: XCTestCase {
    func testActivateFlushesOnlyOnChange() {
        let t1 = table([(0x1000, 1, userRW)])
        let t2 = table([(0x1000, 2, userRW)])
        let m = MMU(config: MMUConfig())
        XCTAssertNil(m.active)
        m.activate(t1)  // first CR3 load: flush 1
        XCTAssertTrue(m.active === t1)
        XCTAssertEqual(m.translate(0x1000, .read, user: true), .ok(frame: 1))  // walk 1
        m.activate(t1)  // same table: no flush, TLB kept
        XCTAssertEqual(m.translate(0x1000, .read, user: true), .ok(frame: 1))  // dTLB hit
        XCTAssertEqual(m.counters.flushes, 1)
        m.activate(t2)  // switch: flush 2; t1's translation must not leak into t2
        XCTAssertEqual(m.translate(0x1000, .read, user: true), .ok(frame: 2))  // walk 2
        m.activate(t1)  // flush 3
        XCTAssertEqual(m.translate(0x1000, .read, user: true), .ok(frame: 1))  // walk 3
        XCTAssertEqual(m.counters.flushes, 3)
        XCTAssertEqual(m.counters.walks, 3)
        XCTAssertEqual(m.counters.dtlbHits, 1)
    }

    func testGlobalEntriesSurviveActivateButNotInvalidateAll() {
        let g: UInt64 = 0xFFFF_8000_0000_0000
        let t1 = table([(g, 7, PTE.present | PTE.writable | PTE.global)])
        let t2 = PageTable()  // maps nothing
        let m = mmu(MMUConfig(), t1)
        XCTAssertEqual(m.translate(g, .read, user: false), .ok(frame: 7))  // walk 1, cached with G
        m.activate(t2)
        // Hardware keeps global entries across CR3 loads: the hit needs no walk in t2.
        XCTAssertEqual(m.translate(g, .read, user: false), .ok(frame: 7))
        XCTAssertEqual(m.counters.walks, 1)
        m.invalidateAll(t2)  // full flush, globals included: flush 3 (after two activates)
        XCTAssertEqual(m.translate(g, .read, user: false), .fault(errorCode: 0))  // t2 has no mapping
        XCTAssertEqual(m.counters.flushes, 3)
    }

    func testInvalidate() {
        let t = table([(0x1000, 1, userRW), (0x2000, 2, userRW)])
        let other = table([(0x1000, 9, userRW)])
        let m = mmu(MMUConfig(), t)
        _ = m.translate(0x1000, .read, user: true)
        _ = m.translate(0x2000, .read, user: true)
        // The pmap remaps a page. Until it invalidates, the TLB keeps the old frame, as hardware does.
        t.setPTE(at: 0x1000, PTE(frame: 3, flags: userRW))
        XCTAssertEqual(m.translate(0x1000, .read, user: true), .ok(frame: 1))
        m.invalidate(other, va: 0x1000)  // not the active table: no-op, not counted
        XCTAssertEqual(m.translate(0x1000, .read, user: true), .ok(frame: 1))
        XCTAssertEqual(m.counters.invalidations, 0)
        m.invalidate(t, va: 0x1ABC)  // any address in the page
        XCTAssertEqual(m.translate(0x1000, .read, user: true), .ok(frame: 3))
        XCTAssertEqual(m.counters.invalidations, 1)
        XCTAssertEqual(m.counters.stlbMisses, 3)  // invlpg dropped the STLB copy too: walk 3
        XCTAssertEqual(m.translate(0x2000, .read, user: true), .ok(frame: 2))  // other pages kept
        XCTAssertEqual(m.counters.walks, 3)

        m.invalidateAll(other)  // not active: nothing
        XCTAssertEqual(m.counters.flushes, 1)
        m.invalidateAll(t)  // flush 2: both pages walk again (walks 4, 5)
        _ = m.translate(0x1000, .read, user: true)
        _ = m.translate(0x2000, .read, user: true)
        XCTAssertEqual(m.counters.flushes, 2)
        XCTAssertEqual(m.counters.walks, 5)
    }

    func testWatchReportedExactlyOnce() {
        let t = table([(0x1000, 1, userRW | PTE.watch)])
        let m = mmu(MMUConfig(), t)
        XCTAssertEqual(m.translate(0x1000, .read, user: true), .firstUseOfWatched(frame: 1))
        XCTAssertEqual(t.pte(at: 0x1000), PTE(frame: 1, flags: userRW | PTE.accessed))  // watch cleared
        XCTAssertEqual(m.translate(0x1000, .read, user: true), .ok(frame: 1))  // TLB hit
        m.invalidate(t, va: 0x1000)
        XCTAssertEqual(m.translate(0x1000, .read, user: true), .ok(frame: 1))  // walks; bit already gone

        // Re-armed without invlpg: the stale TLB entry hides it (the OS must invalidate).
        t.updatePTE(at: 0x1000) { $0.raw |= PTE.watch }
        XCTAssertEqual(m.translate(0x1000, .read, user: true), .ok(frame: 1))
        m.invalidate(t, va: 0x1000)
        XCTAssertEqual(m.translate(0x1000, .write, user: true), .firstUseOfWatched(frame: 1))
        XCTAssertEqual(m.translate(0x1000, .write, user: true), .ok(frame: 1))
        XCTAssertEqual(TranslateResult.firstUseOfWatched(frame: 1).frame, 1)
    }

    func testWatchSurvivesAFaultingAccess() {
        let t = table([(0x1000, 1, userRO | PTE.watch)])
        let m = mmu(MMUConfig(), t)
        XCTAssertEqual(m.translate(0x1000, .write, user: true), .fault(errorCode: 0x07))
        XCTAssertTrue(t.pte(at: 0x1000)!.isWatched)  // a refused access is no use of the PTE
        XCTAssertEqual(m.translate(0x1000, .read, user: true), .firstUseOfWatched(frame: 1))
        XCTAssertNil(TranslateResult.fault(errorCode: 7).frame)
    }
}
