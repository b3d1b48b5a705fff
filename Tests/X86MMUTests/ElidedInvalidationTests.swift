// MMU.invalidateKnownAbsent: pmap_enter's invlpg, counted like `invalidate` but without searching
// the TLBs, because the caller knows they hold nothing for the page. Its audit mode must catch a
// caller that is wrong.
@testable import X86MMU
import XCTest

final class ElidedInvalidationTests: XCTestCase {
    func testCountsLikeInvalidateAndItsAuditCatchesACachedPage() {
        let table = PageTable()
        _ = table.setPTE(at: 0x5000, PTE(frame: 7, flags: PTE.present | PTE.user | PTE.writable))
        let m = mmu(config(dtlb: (8, 2), stlb: (32, 4)), table)
        _ = m.translate(0x5000, .read, user: true) // the page is now in the dTLB and the STLB
        let before = m.counters.invalidations

        // Not auditing: counted, nothing searched, so the cached entry stays (the claim is the
        // caller's to keep; pmap_enter only makes it about pages that are not cached).
        m.invalidateKnownAbsent(table, va: 0x5000)
        XCTAssertEqual(m.counters.invalidations, before + 1, "counted as one invalidation, like invalidate")
        XCTAssertEqual(m.elidedInvalidationHits, 0)
        XCTAssertTrue(m.dtlb.pages(inSet: 1).contains(5), "the elided search dropped nothing")

        // Auditing: the same claim is checked, found wrong once, and the entry is dropped.
        m.verifyElidedInvalidations = true
        m.invalidateKnownAbsent(table, va: 0x5000)
        XCTAssertEqual(m.counters.invalidations, before + 2)
        XCTAssertEqual(m.elidedInvalidationHits, 1, "a cached page behind a 'known absent' invalidation is reported")
        XCTAssertFalse(m.dtlb.pages(inSet: 1).contains(5))

        // A page that really is absent: counted, nothing found.
        m.invalidateKnownAbsent(table, va: 0x9000)
        XCTAssertEqual(m.counters.invalidations, before + 3)
        XCTAssertEqual(m.elidedInvalidationHits, 1)

        // Another address space than the loaded one: neither counted nor searched, as invalidate.
        m.invalidateKnownAbsent(PageTable(), va: 0x5000)
        XCTAssertEqual(m.counters.invalidations, before + 3)
    }
}
