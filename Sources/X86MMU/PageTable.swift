// One address space's 4-level x86-64 paging structures (Intel SDM Vol. 3A §4.5): PML4 → PDPT →
// PD → PT, 512 eight-byte entries per 4 KiB table, indexed by linear-address bits 47:39, 38:30,
// 29:21 and 20:12. This is the memory the MMU walks; it knows nothing of the kernel.

import Synchronization

/// Source of `PageTable.asid`; relaxed is enough, the ids only need to be distinct.
private let nextASID = Atomic<Int>(1)

/// One address space's 4-level page tables (PML4 → PDPT → PD → PT, 512 entries each).
///
/// Storage is flat: table page `i` is the slice `entries[i*512 ..< i*512+512]` of one growable
/// array, and page 0 is the PML4. A non-leaf entry holds its child's table-page index in its
/// frame field plus P|RW|U|A|D — what DragonFly's pmap installs on non-terminal levels
/// (PG_U|PG_RW|PG_V|PG_A|PG_M). Because every non-leaf entry allows everything and is never
/// changed, the effective rights of a translation (SDM §4.6.1: the AND of R/W and U/S and the OR
/// of XD over all levels) are exactly the leaf's, which is why the MMU checks only the leaf.
///
/// Table pages are allocated on demand and never freed while the PageTable lives
/// (DragonFly's machdep.pmap_dynamic_delete=0).
///
/// Addresses: only bits 47:0 select an entry. Bits 63:48 are not checked (a non-canonical
/// address would raise #GP, not #PF, on real hardware; that is not modelled), so callers pass
/// canonical addresses; `forEachPresent` reports canonical ones.
///
/// Mutators never touch any TLB: like DragonFly's pmap, which follows a PTE change with
/// pmap_inval (invlpg / a TLB shootdown), the caller must call `MMU.invalidate` itself.
public final class PageTable {
    /// Entries per table page (4096 / 8).
    static let fanout = 512
    /// Bits P|RW|U|A|D of a non-leaf entry.
    static let directoryFlags = PTE.present | PTE.writable | PTE.user | PTE.accessed | PTE.dirty

    /// Unique id, for debugging.
    public let asid: Int

    /// All table pages, 512 entries each; page 0 is the PML4. `@exclusivity(unchecked)` spares
    /// each access a swift_beginAccess/endAccess runtime call pair; no access overlaps another,
    /// since closures (`updatePTE`, `forEachPresent`) get a copy of the PTE, never an inout into
    /// this storage.
    @exclusivity(unchecked) private var entries: WordBuffer

    /// Number of present leaf PTEs, maintained incrementally by every mutator.
    @exclusivity(unchecked) public private(set) var presentCount = 0

    public init() {
        asid = nextASID.wrappingAdd(1, ordering: .relaxed).oldValue
        entries = WordBuffer(zeros: PageTable.fanout)
    }

    /// Page-table pages allocated, including the PML4 (a fresh table has 1).
    public var tablePages: Int { entries.count / PageTable.fanout }

    // MARK: Walking the levels

    /// Index in `entries` of the first entry of the table page a non-leaf entry points to (its
    /// frame field holds the table-page index).
    @inline(__always)
    private static func childBase(_ entry: UInt64) -> Int {
        Int(truncatingIfNeeded: (entry & PTE.frameMask) >> 12) &* fanout
    }

    /// Index into `entries` of the leaf PTE for `va`, or nil if a PDPT, PD or PT on the way is
    /// missing. The three non-leaf levels are unrolled by the optimiser (constant trip count).
    @inline(__always)
    private func leafSlot(_ va: UInt64) -> Int? {
        var table = 0
        var shift: UInt64 = 39
        while shift > 12 {
            let entry = entries[table &+ Int(truncatingIfNeeded: (va >> shift) & 511)]
            guard entry & PTE.present != 0 else { return nil }
            table = PageTable.childBase(entry)
            shift &-= 9
        }
        return table &+ Int(truncatingIfNeeded: (va >> 12) & 511)
    }

    /// Like `leafSlot`, allocating (zeroed) missing levels; returns how many it allocated.
    private func leafSlotAllocating(_ va: UInt64) -> (slot: Int, newTablePages: Int) {
        var table = 0
        var added = 0
        var shift: UInt64 = 39
        while shift > 12 {
            let slot = table + Int((va >> shift) & 511)
            var entry = entries[slot]
            if entry & PTE.present == 0 {
                let child = UInt64(tablePages)
                entries.appendZeros(PageTable.fanout)
                entry = child << 12 | PageTable.directoryFlags
                entries[slot] = entry
                added += 1
            }
            table = PageTable.childBase(entry)
            shift -= 9
        }
        return (table + Int((va >> 12) & 511), added)
    }

    /// The page walker's memory side (SDM §4.5, §4.8): returns the leaf for `va` as found (0 if a
    /// level is missing) and, if it is present and grants `need` (`PTE.grants`), sets A, D too for
    /// a write, and clears `PTE.watch` — only on success, so a faulting access leaves the PTE as
    /// it was. Non-leaf entries are always present once allocated and grant every right, so only
    /// the leaf is checked. Makes no calls, so a caller needs no retain of the table around it.
    @inline(__always)
    func walk(_ va: UInt64, need: UInt64, write: Bool) -> UInt64 {
        guard let slot = leafSlot(va) else { return 0 }
        let leaf = entries[slot]
        guard leaf & PTE.present != 0, PTE.grants(leaf, need) else { return leaf }
        let updated = (leaf | PTE.accessed | (write ? PTE.dirty : 0)) & ~PTE.watch
        if updated != leaf { entries[slot] = updated }
        return leaf
    }

    /// Keeps `presentCount` right when a leaf changes from `old` to `new`.
    @inline(__always)
    private func account(old: UInt64, new: UInt64) {
        presentCount += Int(truncatingIfNeeded: new & PTE.present) - Int(truncatingIfNeeded: old & PTE.present)
    }

    // MARK: The pmap's primitives

    /// pmap_pte: nil if a PDPT/PD/PT level on the way is missing; else the leaf (possibly not
    /// present).
    public func pte(at va: UInt64) -> PTE? {
        leafSlot(va).map { PTE(raw: entries[$0]) }
    }

    /// Stores `pte` as the leaf for `va`, allocating missing levels. Does not touch any TLB.
    @discardableResult
    public func setPTE(at va: UInt64, _ pte: PTE) -> (old: PTE, newTablePages: Int) {
        let (slot, added) = leafSlotAllocating(va)
        let old = entries[slot]
        entries[slot] = pte.raw
        account(old: old, new: pte.raw)
        return (PTE(raw: old), added)
    }

    /// Zeroes the leaf for `va` and returns the old entry (raw 0 if there was none). Never
    /// allocates. Does not touch any TLB.
    @discardableResult
    public func clearPTE(at va: UInt64) -> PTE {
        guard let slot = leafSlot(va) else { return PTE(raw: 0) }
        let old = entries[slot]
        entries[slot] = 0
        account(old: old, new: 0)
        return PTE(raw: old)
    }

    /// Lets `body` edit the leaf for `va` in place (present or not); a no-op if a level on the
    /// way is missing. Does not touch any TLB.
    public func updatePTE(at va: UInt64, _ body: (inout PTE) -> Void) {
        guard let slot = leafSlot(va) else { return }
        let old = entries[slot]
        var pte = PTE(raw: old)
        body(&pte)
        entries[slot] = pte.raw
        account(old: old, new: pte.raw)
    }

    /// Visits present leaf PTEs with `start <= va < end` in increasing address order; `body` may
    /// modify the PTE in place (it gets a copy that is stored back, so it must not itself
    /// rewrite the same PTE through this table).
    ///
    /// Missing and non-present non-leaf entries are skipped whole, so the cost is bounded by the
    /// table pages that intersect the range (at most 512 slots each), not by its size. The PML4
    /// is not linear in canonical address space: slots 0..255 map the lower half
    /// (0 ..< 2^47) and slots 256..511 the sign-extended upper half (0xFFFF8000_00000000 ...),
    /// so it is visited as two linear halves, lower first.
    public func forEachPresent(from start: UInt64, to end: UInt64, _ body: (UInt64, inout PTE) -> Void) {
        // A page is visited when its address is in range, so a start inside a page skips it.
        let from = start & 0xFFF == 0 ? start : (start | 0xFFF) &+ 1
        guard from < end, from != 0 || start == 0 else { return }  // (`from` wrapped past 2^64)
        visit(tableBase: 0, first: 0, count: 256, shift: 39, base: 0, from, end, body)
        visit(tableBase: 0, first: 256, count: 256, shift: 39, base: 0xFFFF_8000_0000_0000, from, end, body)
    }

    /// Visits slots `first ..< first+count` of the table page starting at `entries[tableBase]`,
    /// whose slot `first` maps `base` and each slot `1 << shift` bytes, clipped to `start ..< end`.
    private func visit(
        tableBase: Int, first: Int, count: Int, shift: UInt64, base: UInt64,
        _ start: UInt64, _ end: UInt64, _ body: (UInt64, inout PTE) -> Void
    ) {
        // Last byte covered; computed without `base + size`, which is 2^64 for the top half.
        let last = base + ((UInt64(count) << shift) - 1)
        guard start <= last, end > base else { return }
        let lo = start > base ? Int((start - base) >> shift) : 0
        let hi = Int((min(end - 1, last) - base) >> shift)
        for i in lo...hi {
            let slot = tableBase + first + i
            let entry = entries[slot]
            guard entry & PTE.present != 0 else { continue }
            let va = base + UInt64(i) << shift
            if shift > 12 {
                visit(
                    tableBase: PageTable.childBase(entry), first: 0, count: PageTable.fanout,
                    shift: shift - 9, base: va, start, end, body)
            } else {
                var pte = PTE(raw: entry)
                body(va, &pte)
                entries[slot] = pte.raw
                account(old: entry, new: pte.raw)
            }
        }
    }
}
