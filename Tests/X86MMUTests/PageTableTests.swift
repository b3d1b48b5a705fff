import Foundation
import XCTest
import X86MMU

final class PageTableTests: XCTestCase {
    let gib: UInt64 = 1 << 30

    func testFreshTable() {
        let t = PageTable()
        XCTAssertEqual(t.tablePages, 1)  // just the PML4
        XCTAssertEqual(t.presentCount, 0)
        XCTAssertNil(t.pte(at: 0))  // the PDPT under PML4 slot 0 does not exist
        XCTAssertNotEqual(PageTable().asid, t.asid)
    }

    func testTablePageCounting() {
        let t = PageTable()
        // First PTE: a PDPT, a PD and a PT below the PML4 → 3 new, 4 in all.
        XCTAssertEqual(t.setPTE(at: 0x1000, PTE(frame: 1, flags: userRW)).newTablePages, 3)
        XCTAssertEqual(t.tablePages, 4)
        // 4 KiB further: the same PT → nothing new.
        XCTAssertEqual(t.setPTE(at: 0x2000, PTE(frame: 2, flags: userRW)).newTablePages, 0)
        XCTAssertEqual(t.tablePages, 4)
        // 2 MiB further: same PD, next PD slot → one new PT, 5 in all.
        XCTAssertEqual(t.setPTE(at: 0x1000 + (2 << 20), PTE(frame: 3, flags: userRW)).newTablePages, 1)
        XCTAssertEqual(t.tablePages, 5)
        // 1 GiB further: same PDPT, next PDPT slot → a new PD and PT, 7 in all.
        XCTAssertEqual(t.setPTE(at: 0x1000 + gib, PTE(frame: 4, flags: userRW)).newTablePages, 2)
        XCTAssertEqual(t.tablePages, 7)
        // Upper half (PML4 slot 256) → a new PDPT, PD and PT, 10 in all.
        XCTAssertEqual(t.setPTE(at: 0xFFFF_8000_0000_0000, PTE(frame: 5, flags: userRW)).newTablePages, 3)
        XCTAssertEqual(t.tablePages, 10)
    }

    func testTwoPTEs512GiBApart() {
        let t = PageTable()
        t.setPTE(at: 0, PTE(frame: 1, flags: userRW))
        // 512 GiB is one PML4 slot: a second PDPT, PD and PT → 4 + 3 = 7.
        XCTAssertEqual(t.setPTE(at: 512 * gib, PTE(frame: 2, flags: userRW)).newTablePages, 3)
        XCTAssertEqual(t.tablePages, 7)
    }

    func testPTEAtNilVersusNotPresent() {
        let t = table([(0x1000, 1, userRW)])
        XCTAssertEqual(t.pte(at: 0x1000), PTE(frame: 1, flags: userRW))
        XCTAssertEqual(t.pte(at: 0x1FFF), PTE(frame: 1, flags: userRW))  // same page
        // Same PT, empty slot: the level exists, so a (not present) leaf, not nil.
        XCTAssertEqual(t.pte(at: 0x2000), PTE(raw: 0))
        // The next 2 MiB needs a PT that was never allocated → nil.
        XCTAssertNil(t.pte(at: 0x20_0000))
    }

    func testSetReturnsOldAndClearNeverAllocates() {
        let t = PageTable()
        XCTAssertEqual(t.setPTE(at: 0x5000, PTE(frame: 9, flags: userRO)).old, PTE(raw: 0))
        XCTAssertEqual(t.setPTE(at: 0x5000, PTE(frame: 10, flags: userRW)).old, PTE(frame: 9, flags: userRO))
        XCTAssertEqual(t.clearPTE(at: 0x5000), PTE(frame: 10, flags: userRW))
        XCTAssertEqual(t.pte(at: 0x5000), PTE(raw: 0))
        // Far away: nothing to clear, and no table page appears (still 4).
        XCTAssertEqual(t.clearPTE(at: 100 * gib), PTE(raw: 0))
        XCTAssertEqual(t.tablePages, 4)
        XCTAssertEqual(t.presentCount, 0)
    }

    func testUpdatePTE() {
        let t = table([(0x1000, 1, userRW)])
        t.updatePTE(at: 0x1000) { $0.raw |= PTE.wired }
        XCTAssertEqual(t.pte(at: 0x1000), PTE(frame: 1, flags: userRW | PTE.wired))
        // A not-present leaf in an existing PT is still handed to the closure.
        t.updatePTE(at: 0x2000) { $0 = PTE(frame: 2, flags: userRO) }
        XCTAssertEqual(t.presentCount, 2)
        // Missing levels: the closure is not called and nothing is allocated.
        var called = false
        t.updatePTE(at: 10 * gib) { _ in called = true }
        XCTAssertFalse(called)
        XCTAssertEqual(t.tablePages, 4)
    }

    func testPresentCountIsIncremental() {
        let t = PageTable()
        t.setPTE(at: 0x1000, PTE(frame: 1, flags: userRW))  // 1
        t.setPTE(at: 0x2000, PTE(frame: 2, flags: PTE.user))  // not present (a swap-style entry): still 1
        XCTAssertEqual(t.presentCount, 1)
        t.setPTE(at: 0x1000, PTE(frame: 3, flags: userRO))  // present → present: still 1
        XCTAssertEqual(t.presentCount, 1)
        t.updatePTE(at: 0x2000) { $0.raw |= PTE.present }  // 2
        XCTAssertEqual(t.presentCount, 2)
        t.updatePTE(at: 0x1000) { $0.raw &= ~PTE.present }  // 1
        XCTAssertEqual(t.presentCount, 1)
        t.clearPTE(at: 0x1000)  // was not present: still 1
        t.clearPTE(at: 0x2000)  // 0
        XCTAssertEqual(t.presentCount, 0)
    }

    func testForEachPresentOrderAndClipping() {
        let high: UInt64 = 0xFFFF_8000_0000_3000
        // Inserted out of order, across PML4 halves, PDPT and PD slots.
        let vas: [UInt64] = [high, 3 * gib + 0x7000, 0x20_1000, 0x1000, 0x3000]
        let t = PageTable()
        for (i, va) in vas.enumerated() { t.setPTE(at: va, PTE(frame: UInt64(i), flags: userRW)) }
        t.setPTE(at: 0x2000, PTE(frame: 99, flags: PTE.user))  // not present: never visited

        var seen: [UInt64] = []
        t.forEachPresent(from: 0, to: .max) { va, _ in seen.append(va) }
        // Increasing canonical order: lower half first, the sign-extended upper half last.
        XCTAssertEqual(seen, [0x1000, 0x3000, 0x20_1000, 3 * gib + 0x7000, high])

        // start is inclusive, end exclusive: [0x3000, 0x20_1000) holds only 0x3000.
        seen = []
        t.forEachPresent(from: 0x3000, to: 0x20_1000) { va, _ in seen.append(va) }
        XCTAssertEqual(seen, [0x3000])
        // A start inside a page skips that page (its va is below start).
        seen = []
        t.forEachPresent(from: 0x1001, to: 0x4000) { va, _ in seen.append(va) }
        XCTAssertEqual(seen, [0x3000])
        // Only the upper half.
        seen = []
        t.forEachPresent(from: 0x8000_0000_0000_0000, to: .max) { va, _ in seen.append(va) }
        XCTAssertEqual(seen, [high])
        // Empty and inverted ranges visit nothing.
        t.forEachPresent(from: 0x1000, to: 0x1000) { _, _ in XCTFail("empty range") }
        t.forEachPresent(from: 0x5000, to: 0x1000) { _, _ in XCTFail("inverted range") }
    }

    func testForEachPresentModifiesInPlace() {
        let t = table([(0x1000, 1, userRW | PTE.dirty), (0x2000, 2, userRW), (0x3000, 3, userRW)])
        // pmap_remove-style: clear the middle PTE, clean the others.
        t.forEachPresent(from: 0, to: 0x10000) { va, pte in
            if va == 0x2000 { pte = PTE(raw: 0) } else { pte.raw &= ~(PTE.dirty | PTE.writable) }
        }
        XCTAssertEqual(t.pte(at: 0x1000), PTE(frame: 1, flags: userRO))
        XCTAssertEqual(t.pte(at: 0x2000), PTE(raw: 0))
        XCTAssertEqual(t.pte(at: 0x3000), PTE(frame: 3, flags: userRO))
        XCTAssertEqual(t.presentCount, 2)  // 3 present, one cleared by the closure
    }

    func testForEachPresentSkipsHolesQuickly() {
        // Three PTEs 512 GiB apart in a 2^47-byte range: 2^35 pages, so a per-page loop would
        // never finish; skipping missing levels visits 3 leaves (and at most 3 PTs of slots).
        let t = table([(0x1000, 1, userRW), (512 * gib, 2, userRW), ((1 << 47) - page, 3, userRW)])
        var calls = 0
        let started = Date()
        t.forEachPresent(from: 0, to: 1 << 47) { _, _ in calls += 1 }
        XCTAssertEqual(calls, 3)
        // The whole 64-bit space, 2^52 pages, is as quick.
        t.forEachPresent(from: 0, to: .max) { _, _ in calls += 1 }
        XCTAssertEqual(calls, 6)
        XCTAssertLessThan(Date().timeIntervalSince(started), 1.0)
    }
}
