import XCTest
import X86MMU

/// #PF error codes: P 0x01, W 0x02, U 0x04, I 0x10.
final class MMUFaultTests: XCTestCase {
    let rw: UInt64 = 0x1000  // user read-write
    let ro: UInt64 = 0x2000  // user read-only
    let kern: UInt64 = 0x3000  // supervisor read-write
    let nx: UInt64 = 0x4000  // user read-write, no-execute
    let hole: UInt64 = 0x5000  // PT exists, leaf not present
    let far: UInt64 = 0x40_0000_0000  // no PDPT/PD/PT at all

    func makeMMU() -> (MMU, PageTable) {
        let t = table([
            (rw, 1, userRW), (ro, 2, userRO), (kern, 3, PTE.present | PTE.writable),
            (nx, 4, userRW | PTE.noExecute),
        ])
        return (mmu(MMUConfig(), t), t)
    }

    func testErrorCodes() {
        let (m, _) = makeMMU()
        let cases: [(UInt64, MMUAccess, Bool, TranslateResult, String)] = [
            (far, .read, true, .fault(errorCode: 0x04), "missing level, user read: U"),
            (far, .read, false, .fault(errorCode: 0x00), "missing level, supervisor read: 0"),
            (hole, .write, true, .fault(errorCode: 0x06), "not-present leaf, user write: W|U"),
            (hole, .execute, true, .fault(errorCode: 0x14), "not-present leaf, user fetch: U|I"),
            (ro, .write, true, .fault(errorCode: 0x07), "read-only, user write: P|W|U"),
            (ro, .write, false, .fault(errorCode: 0x03), "read-only, supervisor write (CR0.WP=1): P|W"),
            (kern, .read, true, .fault(errorCode: 0x05), "supervisor page, user read: P|U"),
            (kern, .execute, true, .fault(errorCode: 0x15), "supervisor page, user fetch: P|U|I"),
            (nx, .execute, true, .fault(errorCode: 0x15), "NX, user fetch: P|U|I"),
            (nx, .execute, false, .fault(errorCode: 0x11), "NX, supervisor fetch: P|I"),
            (kern, .read, false, .ok(frame: 3), "supervisor page, supervisor read"),
            (rw, .read, false, .ok(frame: 1), "user page, supervisor read (no SMAP)"),
            (rw, .execute, false, .ok(frame: 1), "user page, supervisor fetch (no SMEP)"),
            (ro, .execute, true, .ok(frame: 2), "read-only page without NX is executable"),
        ]
        for (va, access, user, expected, why) in cases {
            XCTAssertEqual(m.translate(va, access, user: user), expected, why)
        }
        XCTAssertEqual(m.counters.faults, 10)  // the first ten cases
        // Every case walked (a fault drops the page from every TLB) except the fetch from `rw`,
        // which hit the STLB entry the read before it left: 13.
        XCTAssertEqual(m.counters.walks, 13)
        XCTAssertEqual(m.counters.stlbHits, 1)
    }

    func testFaultOnTLBHitUsesCachedBitsAndDropsTheEntry() {
        let (m, t) = makeMMU()
        XCTAssertEqual(m.translate(ro, .read, user: true), .ok(frame: 2))  // walk 1, cached RW=0
        XCTAssertEqual(m.translate(ro, .write, user: true), .fault(errorCode: 0x07))  // dTLB hit → fault
        XCTAssertEqual(m.counters.walks, 1)  // decided from the cached bits
        XCTAssertEqual(m.counters.dtlbHits, 1)
        // The fault dropped the entry, so the OS can upgrade the PTE without invlpg and the
        // retried write walks (dTLB and STLB miss) and succeeds.
        t.updatePTE(at: ro) { $0.raw |= PTE.writable }
        XCTAssertEqual(m.translate(ro, .write, user: true), .ok(frame: 2))
        XCTAssertEqual(m.counters.walks, 2)
        XCTAssertEqual(m.counters.dtlbMisses, 2)
        XCTAssertEqual(m.counters.stlbMisses, 2)
        XCTAssertEqual(m.counters.faults, 1)
    }

    func testFaultsAreNotCachedAndDoNotSetAccessed() {
        let (m, t) = makeMMU()
        XCTAssertEqual(m.translate(hole, .read, user: true), .fault(errorCode: 0x04))
        XCTAssertEqual(m.translate(hole, .read, user: true), .fault(errorCode: 0x04))
        XCTAssertEqual(m.counters.walks, 2)  // each fault walked again: nothing cached
        XCTAssertEqual(m.translate(ro, .write, user: true), .fault(errorCode: 0x07))
        XCTAssertFalse(t.pte(at: ro)!.isAccessed)  // a refused access sets neither A nor D
        // vm_fault installs the page; the retry walks and succeeds with no invalidate needed.
        t.setPTE(at: hole, PTE(frame: 5, flags: userRW))
        XCTAssertEqual(m.translate(hole, .read, user: true), .ok(frame: 5))
        XCTAssertEqual(m.counters.faults, 3)
    }
}
