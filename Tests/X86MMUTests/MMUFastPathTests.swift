// The simulator's fast paths against `translate`: `translateL1Hit` (then `translate` when it
// declines) and `translateL1Repeats` must leave exactly the counters and TLB contents that
// `translate` alone leaves, on random pages, rights, accesses and invalidations.
@testable import X86MMU
import XCTest

final class MMUFastPathTests: XCTestCase {
    /// A small deterministic generator (xorshift64*).
    struct Mix {
        var state: UInt64
        init(state: UInt64) { self.state = state | 1 }
        mutating func below(_ n: UInt64) -> UInt64 {
            state ^= state >> 12
            state ^= state << 25
            state ^= state >> 27
            return (state &* 0x2545_F491_4F6C_DD1D) % n
        }
    }

    /// Every valid page of every set of the three TLBs, most recent first.
    func contents(_ m: MMU) -> [[UInt64]] {
        var sets: [[UInt64]] = []
        for s in 0..<Int(m.dtlb.setMask + 1) { sets.append(m.dtlb.pages(inSet: s)) }
        for s in 0..<Int(m.itlb.setMask + 1) { sets.append(m.itlb.pages(inSet: s)) }
        return sets
    }

    func randomPTE(_ rng: inout Mix, frame: UInt64) -> PTE {
        var flags = PTE.present
        if rng.below(4) != 0 { flags |= PTE.writable }
        if rng.below(8) != 0 { flags |= PTE.user }
        if rng.below(3) == 0 { flags |= PTE.noExecute }
        if rng.below(2) == 0 { flags |= PTE.dirty | PTE.accessed }
        return PTE(frame: frame, flags: flags)
    }

    /// What the CPU allows, from the page table alone (SDM §4.6): an access that an MMU path
    /// reports as completed must find a present leaf with U/S for CPL 3, R/W for a write (with
    /// D set once it completed) and XD clear for a fetch. The fast paths must never let an
    /// access through that this re-walk refuses, whatever their TLB holds.
    func assertAllowed(_ table: PageTable, _ va: UInt64, _ access: MMUAccess, user: Bool,
                       _ context: @autoclosure () -> String, file: StaticString = #filePath, line: UInt = #line)
    {
        guard let pte = table.pte(at: va), pte.isPresent else {
            return XCTFail("\(context()): completed without a present PTE", file: file, line: line)
        }
        if user { XCTAssertTrue(pte.isUser, "\(context()): CPL 3 access through \(pte)", file: file, line: line) }
        if access == .write {
            XCTAssertTrue(pte.isWritable, "\(context()): write through a PTE without PG_RW \(pte)", file: file, line: line)
            XCTAssertTrue(pte.isDirty, "\(context()): write completed without D \(pte)", file: file, line: line)
        }
        if access == .execute {
            XCTAssertFalse(pte.isNoExecute, "\(context()): fetch through an XD PTE \(pte)", file: file, line: line)
        }
    }

    func testFastPathsLeaveWhatTranslateLeaves() {
        // Small TLBs so sets fill, entries move and get evicted.
        let cfg = config(dtlb: (8, 2), itlb: (4, 2), stlb: (32, 4))
        for seed in 1...20 as ClosedRange<UInt64> {
            var rng = Mix(state: seed)
            let tableA = PageTable(), tableB = PageTable()
            let pages: UInt64 = 48
            for p in 0..<pages where rng.below(6) != 0 {
                let pte = randomPTE(&rng, frame: 100 + p)
                _ = tableA.setPTE(at: p << 12, pte)
                _ = tableB.setPTE(at: p << 12, pte)
            }
            let fast = mmu(cfg, tableA), reference = mmu(cfg, tableB)
            var lastVA: UInt64 = 0
            for step in 0..<4000 {
                let roll = rng.below(100)
                if roll < 3 {
                    // The OS changes a PTE and invalidates it.
                    let va = rng.below(pages) << 12
                    let pte = randomPTE(&rng, frame: 500 + rng.below(50))
                    _ = tableA.setPTE(at: va, pte)
                    _ = tableB.setPTE(at: va, pte)
                    fast.invalidate(tableA, va: va)
                    reference.invalidate(tableB, va: va)
                    continue
                }
                // Mostly the same page again, as in a real trace.
                let va = roll < 60 ? lastVA | rng.below(4096) : rng.below(pages) << 12 | rng.below(4096)
                lastVA = va & ~0xFFF
                let access = MMUAccess(rawValue: UInt8(rng.below(3)))!
                let user = rng.below(10) != 0
                if roll < 80 {
                    let count = 1 + rng.below(5)
                    if !fast.translateL1Repeats(va, access, user: user, count: count) {
                        if fast.translate(va, access, user: user).frame != nil {
                            assertAllowed(tableA, va, access, user: user, "seed \(seed) step \(step)")
                        }
                        for _ in 0..<count { _ = reference.translate(va, access, user: user) }
                        // Declined: the reference did `count` translations, the fast MMU one;
                        // catch up with plain translations.
                        for _ in 1..<count { _ = fast.translate(va, access, user: user) }
                    } else {
                        assertAllowed(tableA, va, access, user: user, "seed \(seed) step \(step): repeats")
                        for _ in 0..<count {
                            let r = reference.translate(va, access, user: user)
                            XCTAssertNotNil(r.frame, "seed \(seed) step \(step): repeats counted for a failing access")
                        }
                    }
                } else {
                    let expected = reference.translate(va, access, user: user)
                    if fast.translateL1Hit(va, access, user: user) {
                        XCTAssertNotNil(expected.frame, "seed \(seed) step \(step): a hit where translate faults")
                        assertAllowed(tableA, va, access, user: user, "seed \(seed) step \(step): L1 hit")
                    } else {
                        let result = fast.translate(va, access, user: user)
                        XCTAssertEqual(result, expected, "seed \(seed) step \(step)")
                        if result.frame != nil { assertAllowed(tableA, va, access, user: user, "seed \(seed) step \(step)") }
                    }
                }
                XCTAssertEqual(fast.counters, reference.counters, "seed \(seed) step \(step)")
                if fast.counters != reference.counters { return }
            }
            XCTAssertEqual(contents(fast), contents(reference), "seed \(seed)")
            for p in 0..<pages {
                XCTAssertEqual(tableA.pte(at: p << 12)?.raw, tableB.pte(at: p << 12)?.raw, "seed \(seed) page \(p)")
            }
        }
    }
}
