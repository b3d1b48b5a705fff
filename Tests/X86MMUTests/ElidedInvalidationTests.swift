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

/// MMU.invalidateRange: a munmap's invalidations in one pass over the TLBs must leave exactly
/// what `invalidate` page by page leaves, and its audit must catch an entry the one pass would
/// drop and the page-by-page invalidations did not.
final class RangeInvalidationTests: XCTestCase {
    /// Every set of every TLB, in recency order.
    private func contents(_ m: MMU) -> [[UInt64]] {
        (0 ..< 4).map { m.dtlb.pages(inSet: $0) } + (0 ..< 2).map { m.itlb.pages(inSet: $0) }
            + (0 ..< 8).map { m.stlb.pages(inSet: $0) }
    }

    func testOnePassEqualsPageByPageOnRandomTLBs() {
        var rng = SystemRandomNumberGenerator()
        for round in 0 ..< 300 {
            let table = PageTable()
            let pages = UInt64(48)
            // Pages 0x10...: most present, some never mapped.
            var present: Set<UInt64> = []
            for vpn in 0x10 ..< 0x10 + pages where Int.random(in: 0 ..< 5, using: &rng) != 0 {
                _ = table.setPTE(at: vpn << 12, PTE(frame: vpn, flags: PTE.present | PTE.user | PTE.writable))
                present.insert(vpn)
            }
            let cfg = config(dtlb: (16, 4), itlb: (8, 4), stlb: (64, 8))
            let byPage = mmu(cfg, table)
            let onePass = mmu(cfg, table)
            // The same random accesses fill both alike (reads, writes and fetches).
            for _ in 0 ..< 120 {
                let vpn = 0x10 + UInt64.random(in: 0 ..< pages, using: &rng)
                let access = ([.read, .write, .execute] as [MMUAccess]).randomElement(using: &rng) ?? .read
                _ = byPage.translate(vpn << 12, access, user: true)
                _ = onePass.translate(vpn << 12, access, user: true)
            }
            XCTAssertEqual(contents(byPage), contents(onePass))
            let first = 0x10 + UInt64.random(in: 0 ..< pages, using: &rng)
            let last = min(first + UInt64.random(in: 0 ..< 24, using: &rng), 0x10 + pages - 1)
            let victims = present.filter { $0 >= first && $0 <= last }.sorted()
            for vpn in victims {
                table.clearPTE(at: vpn << 12)
                byPage.invalidate(table, va: vpn << 12)
            }
            onePass.invalidateRange(table, from: first << 12, to: (last + 1) << 12, count: victims.count)
            XCTAssertEqual(contents(byPage), contents(onePass), "round \(round): pages \(first)...\(last)")
            XCTAssertEqual(byPage.counters.invalidations, onePass.counters.invalidations)
            // The audit agrees: nothing left in the range after page-by-page invalidation.
            byPage.checkRangeInvalidated(table, from: first << 12, to: (last + 1) << 12)
            XCTAssertEqual(byPage.elidedInvalidationHits, 0)
        }
    }

    func testAuditCountsAnEntryOnlyTheOnePassWouldDrop() {
        let table = PageTable()
        _ = table.setPTE(at: 0x5000, PTE(frame: 7, flags: PTE.present | PTE.user))
        let m = mmu(config(dtlb: (8, 2), stlb: (32, 4)), table)
        _ = m.translate(0x5000, .read, user: true) // cached in the dTLB and the STLB
        // The PTE goes without an invalidation (the bug the audit exists for).
        table.clearPTE(at: 0x5000)
        m.checkRangeInvalidated(table, from: 0x4000, to: 0x8000)
        XCTAssertEqual(m.elidedInvalidationHits, 2, "one dTLB and one STLB entry the one pass would have dropped")
        XCTAssertTrue(m.dtlb.pages(inSet: 1).contains(5), "the check drops nothing")
        // Another address space than the loaded one: not searched, not counted, as invalidate.
        let before = m.counters.invalidations
        m.invalidateRange(PageTable(), from: 0x4000, to: 0x8000, count: 1)
        XCTAssertEqual(m.counters.invalidations, before)
        XCTAssertTrue(m.dtlb.pages(inSet: 1).contains(5))
        m.invalidateRange(table, from: 0x4000, to: 0x8000, count: 1)
        XCTAssertEqual(m.counters.invalidations, before + 1)
        XCTAssertFalse(m.dtlb.pages(inSet: 1).contains(5))
    }
}
