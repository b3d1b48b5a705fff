import XCTest
@testable import X86MMU

final class TLBTests: XCTestCase {
    func testGeometryValidation() {
        XCTAssertEqual(TLBGeometry(entries: 64, ways: 4).sets, 16)
        XCTAssertTrue(TLBGeometry(entries: 64, ways: 4).isValid)
        XCTAssertTrue(TLBGeometry(entries: 1536, ways: 12).isValid)  // 128 sets
        XCTAssertTrue(TLBGeometry(entries: 12, ways: 12).isValid)  // fully associative: 1 set
        XCTAssertFalse(TLBGeometry(entries: 48, ways: 4).isValid)  // 12 sets: not a power of two
        XCTAssertFalse(TLBGeometry(entries: 6, ways: 4).isValid)  // not a whole number of sets
        XCTAssertFalse(TLBGeometry(entries: 4, ways: 0).isValid)
        XCTAssertFalse(TLBGeometry(entries: 0, ways: 1).isValid)
    }

    func testDefaultConfigIsSkylake() {
        let c = MMUConfig()
        XCTAssertEqual([c.l1dTLB.sets, c.l1iTLB.sets, c.stlb.sets], [16, 16, 128])
        XCTAssertEqual([c.l1dTLB.ways, c.l1iTLB.ways, c.stlb.ways], [4, 8, 12])
    }

    func testSetMappingAndLRU() {
        // 8 entries, 2 ways → 4 sets: pages 0, 4, 8, 12 share set 0; page 1 is in set 1.
        let tlb = TLB(TLBGeometry(entries: 8, ways: 2))
        tlb.fill(0, 100)
        tlb.fill(4, 104)
        tlb.fill(1, 101)
        XCTAssertEqual(tlb.pages(inSet: 0), [4, 0])  // most recent first
        XCTAssertEqual(tlb.pages(inSet: 1), [1])
        tlb.fill(8, 108)  // set 0 full: evicts its LRU, page 0
        XCTAssertEqual(tlb.pages(inSet: 0), [8, 4])
        XCTAssertNil(tlb.lookup(0))
        XCTAssertEqual(tlb.lookup(4), 104)  // a hit makes 4 the MRU...
        XCTAssertEqual(tlb.pages(inSet: 0), [4, 8])
        tlb.fill(12, 112)  // ...so 8 is evicted now
        XCTAssertEqual(tlb.pages(inSet: 0), [12, 4])
        XCTAssertEqual(tlb.pages(inSet: 1), [1])  // other sets untouched
        XCTAssertEqual(tlb.count, 3)
    }

    func testFillOfCachedPageUpdatesInPlace() {
        let tlb = TLB(TLBGeometry(entries: 4, ways: 4))
        for vpn: UInt64 in [1, 2, 3] { tlb.fill(vpn, vpn) }
        tlb.fill(1, 11)  // already cached: updated and made MRU, no duplicate
        XCTAssertEqual(tlb.pages(inSet: 0), [1, 3, 2])
        XCTAssertEqual(tlb.lookup(1), 11)
        XCTAssertEqual(tlb.count, 3)
    }

    func testInvalidateKeepsValidEntriesAPrefix() {
        let tlb = TLB(TLBGeometry(entries: 4, ways: 4))
        for vpn: UInt64 in [1, 2, 3, 4] { tlb.fill(vpn, vpn) }  // order [4, 3, 2, 1]
        XCTAssertTrue(tlb.invalidate(3))
        XCTAssertFalse(tlb.invalidate(3))
        XCTAssertEqual(tlb.pages(inSet: 0), [4, 2, 1])
        XCTAssertEqual(tlb.lookup(1), 1)  // still found past the closed gap
        tlb.fill(5, 5)  // fills the free way: nothing evicted
        XCTAssertEqual(tlb.pages(inSet: 0), [5, 1, 4, 2])
    }

    func testFlushKeepsGlobalsOnRequest() {
        let tlb = TLB(TLBGeometry(entries: 4, ways: 4))
        tlb.fill(1, PTE.global | PTE.present)
        tlb.fill(2, PTE.present)
        tlb.fill(3, PTE.global | PTE.present)  // order [3, 2, 1]
        tlb.flush(keepGlobal: true)
        XCTAssertEqual(tlb.pages(inSet: 0), [3, 1])
        tlb.flush(keepGlobal: false)
        XCTAssertEqual(tlb.count, 0)
    }
}
