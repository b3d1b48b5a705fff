// One CPU's memory-management unit: L1 dTLB/iTLB, a unified STLB and the page walker, over the
// page tables CR3 points at (Intel SDM Vol. 3A chapter 4). Hardware only: the kernel's pmap
// edits PageTables and tells the MMU what it changed, exactly as DragonFly's pmap issues invlpg
// and CR3 loads.

/// One CPU's MMU.
///
/// Model (each point is what the SDM describes for 4-level paging with 4 KiB pages, no PCID):
/// - Lookup order: the L1 TLB for the access (dTLB for reads and writes, iTLB for fetches), then
///   the STLB, then a page walk. An STLB hit fills the L1; a walk fills the STLB and the L1.
///   Each TLB replaces the least recently used entry of a set.
/// - Entries cache the leaf's frame, R/W, U/S, XD, D and G (§4.10.2.2), not A, not `PTE.watch`.
/// - Rights are checked on every access, on a TLB hit with the cached bits (§4.10.2.3: a
///   cached translation is used without consulting the paging structures): a write needs
///   R/W=1 at any CPL (CR0.WP=1), a user access needs U/S=1, a fetch needs XD=0 (EFER.NXE=1).
///   SMEP/SMAP and protection keys are off.
/// - A walk sets A on the leaf, and D as well for a write (§4.8). A write that hits an entry
///   whose cached D is clear walks again to set D in memory (a "dirty assist"), since the
///   processor never sets D from the TLB alone. A and D are set only when the access succeeds.
/// - A fault is never cached, and invalidates every TLB entry for that page (§4.10.4.1), so the
///   retry after the OS fixes the PTE walks.
/// - Nothing here watches memory: after changing a PTE the OS must call `invalidate` (invlpg)
///   or `invalidateAll`, or it keeps using the stale translation — as on real hardware.
///
/// Per translation there is no allocation, no retain/release and no dynamic dispatch: the TLBs
/// are flat arrays of words, the counters a plain struct, and the walk indexes the active
/// table's entry array directly.
public final class MMU {
    /// The virtual page number bits a TLB tags and a walk indexes (linear-address bits 47:12).
    @usableFromInline static let vpnMask: UInt64 = 0xF_FFFF_FFFF

    // The TLBs are `let`s (their words are mutated through the buffer), so reaching them costs
    // no access check.
    @usableFromInline let dtlb: TLB
    @usableFromInline let itlb: TLB
    let stlb: TLB
    // `@exclusivity(unchecked)`: touched on every translation, and class stored `var`s otherwise
    // cost a swift_beginAccess/endAccess runtime call pair per access in the release build. No
    // access to them overlaps another: the MMU never calls out to client code while it holds
    // one, and an MMU is one CPU, driven from one thread.
    @exclusivity(unchecked) private var cr3: PageTable?
    @exclusivity(unchecked) @usableFromInline var _counters = MMUCounters()

    public init(config: MMUConfig) {
        dtlb = TLB(config.l1dTLB)
        itlb = TLB(config.l1iTLB)
        stlb = TLB(config.stlb)
    }

    /// Event counts since creation or the last `resetCounters()`.
    public var counters: MMUCounters { _counters }

    /// Zeroes the counters (the TLB contents are kept): e.g. after a warm-up phase.
    public func resetCounters() { _counters = MMUCounters() }

    /// The table CR3 points at, nil before the first `activate`. Held strongly, like a loaded
    /// CR3 that keeps its page tables in use; this also means a translation never has to check
    /// (or retain) a weak reference.
    public var active: PageTable? { cr3 }

    // MARK: What the OS does to the MMU

    /// CR3 load. If `table` is not the active one, switches to it and flushes every non-global
    /// entry from all TLBs (no PCID, SDM §4.10.4.1), counting one flush. The first activation
    /// counts as well. Reloading the active table is a no-op, as DragonFly skips the load then.
    public func activate(_ table: PageTable) {
        guard table !== cr3 else { return }
        cr3 = table
        flushTLBs(keepGlobal: true)
    }

    /// invlpg: drops `va`'s page from every TLB, global or not (SDM §4.10.4.1), counting one
    /// invalidation. A no-op (not counted) unless `table` is active, just as pmap_inval sends
    /// nothing to a CPU the pmap is not active on.
    public func invalidate(_ table: PageTable, va: UInt64) {
        guard table === cr3 else { return }
        let vpn = (va >> 12) & MMU.vpnMask
        dtlb.invalidate(vpn)
        itlb.invalidate(vpn)
        stlb.invalidate(vpn)
        _counters.invalidations &+= 1
    }

    /// Counts an invalidation of `va` that the caller knows has nothing to drop, without
    /// searching the TLBs: the PTE was not present a moment ago (x86 TLBs never cache a
    /// not-present translation, SDM §4.10.2.3, and every PTE that stopped being present was
    /// invalidated then), or `invalidate` of the same page has just run with no translation in
    /// between. A pmap_enter's invlpg is of this kind, and searching three full sets for nothing
    /// was a third of a zero-fill fault's instructions. With `verifyElidedInvalidations` (the
    /// replay's access audit) the TLBs are searched anyway, and an entry found there is dropped
    /// and counted in `elidedInvalidationHits`: proof the caller's claim was wrong.
    public func invalidateKnownAbsent(_ table: PageTable, va: UInt64) {
        guard table === cr3 else { return }
        if verifyElidedInvalidations {
            let vpn = (va >> 12) & MMU.vpnMask
            let found = [dtlb.invalidate(vpn), itlb.invalidate(vpn), stlb.invalidate(vpn)].contains(true)
            if found { elidedInvalidationHits += 1 }
        }
        _counters.invalidations &+= 1
    }

    /// `invalidate` of the `count` pages of [`start`, `end`) whose PTEs were present a moment
    /// ago, in one pass over the TLBs instead of a set search per page: a large munmap or exit
    /// removes thousands of PTEs, and three searches each were a quarter of its cost. Exact
    /// when no TLB entry in the range belongs to a page whose PTE was not present — x86 TLBs
    /// never cache a not-present translation and every PTE that stopped being present was
    /// invalidated then, the claim `invalidateKnownAbsent` makes; `checkRangeInvalidated` lets an
    /// audit that invalidated page by page check it.
    public func invalidateRange(_ table: PageTable, from start: UInt64, to end: UInt64, count: Int) {
        guard table === cr3, count > 0, start < end else { return }
        let first = (start >> 12) & MMU.vpnMask
        let last = ((end &- 1) >> 12) & MMU.vpnMask
        dtlb.invalidateRange(first, last)
        itlb.invalidateRange(first, last)
        stlb.invalidateRange(first, last)
        _counters.invalidations &+= UInt64(count)
    }

    /// For the audit of `invalidateRange`: after every present PTE of [`start`, `end`) was
    /// removed and invalidated page by page, the TLB entries left in the range — each one an
    /// entry `invalidateRange` would have dropped and the page-by-page invalidation did not.
    /// They are counted in `elidedInvalidationHits` (nothing is dropped).
    public func checkRangeInvalidated(_ table: PageTable, from start: UInt64, to end: UInt64) {
        guard table === cr3, start < end else { return }
        let first = (start >> 12) & MMU.vpnMask
        let last = ((end &- 1) >> 12) & MMU.vpnMask
        let left = dtlb.invalidateRange(first, last, dropping: false)
            + itlb.invalidateRange(first, last, dropping: false)
            + stlb.invalidateRange(first, last, dropping: false)
        elidedInvalidationHits += left
    }

    /// Search the TLBs on `invalidateKnownAbsent` too, counting what it should not have found.
    @exclusivity(unchecked) public var verifyElidedInvalidations = false
    /// `invalidateKnownAbsent` calls that found a TLB entry (0 unless the claim was wrong).
    @exclusivity(unchecked) public private(set) var elidedInvalidationHits = 0

    /// Full TLB flush when `table` is active (not counted otherwise), global entries included —
    /// modelled as the CR4.PGE toggle, so every cached translation of `table` is forgotten.
    /// Counts one flush.
    public func invalidateAll(_ table: PageTable) {
        guard table === cr3 else { return }
        flushTLBs(keepGlobal: false)
    }

    private func flushTLBs(keepGlobal: Bool) {
        dtlb.flush(keepGlobal: keepGlobal)
        itlb.flush(keepGlobal: keepGlobal)
        stlb.flush(keepGlobal: keepGlobal)
        _counters.flushes &+= 1
    }

    // MARK: Translation

    /// Translates `va` for `access` at CPL 3 (`user`) or CPL 0, in the active table.
    ///
    /// Returns the physical page number, or the #PF error code: P (0x01) if the leaf was
    /// present, W (0x02) for a write, U (0x04) if `user`, I (0x10) for any fetch. Calling it
    /// before `activate` is a precondition failure once a walk is needed.
    public func translate(_ va: UInt64, _ access: MMUAccess, user: Bool) -> TranslateResult {
        let vpn = (va >> 12) & MMU.vpnMask
        // The rights the access needs, as leaf bits (see `PTE.grants`).
        var need: UInt64 = user ? PTE.user : 0
        if access == .write { need |= PTE.writable }
        if access == .execute { need |= PTE.noExecute }

        if access == .execute {
            if let value = itlb.lookup(vpn) {
                _counters.itlbHits &+= 1
                return useCached(value, va, vpn, access, user, need, fillL1: false)
            }
            _counters.itlbMisses &+= 1
        } else {
            if let value = dtlb.lookup(vpn) {
                _counters.dtlbHits &+= 1
                return useCached(value, va, vpn, access, user, need, fillL1: false)
            }
            _counters.dtlbMisses &+= 1
        }
        if let value = stlb.lookup(vpn) {
            _counters.stlbHits &+= 1
            return useCached(value, va, vpn, access, user, need, fillL1: true)
        }
        _counters.stlbMisses &+= 1
        return walk(va, vpn, access, user, need, cachesMissed: true)
    }

    /// The leaf bits an access needs (see `PTE.grants`).
    @inlinable @inline(__always)
    static func need(_ access: MMUAccess, user: Bool) -> UInt64 {
        var need: UInt64 = user ? PTE.user : 0
        if access == .write { need |= PTE.writable }
        if access == .execute { need |= PTE.noExecute }
        return need
    }

    /// `translate`'s most common outcome on its own, for a simulator's per-access fast path:
    /// if the access hits its L1 TLB with rights that allow it and (for a write) D cached, does
    /// exactly what `translate` would (the entry becomes its set's most recent, the hit is
    /// counted) and returns true. Otherwise changes nothing and returns false; the caller then
    /// calls `translate`, which looks again. Inlinable: a hit costs no call.
    @inlinable @inline(__always)
    public func translateL1Hit(_ va: UInt64, _ access: MMUAccess, user: Bool) -> Bool {
        let vpn = (va >> 12) & MMU.vpnMask
        let need = MMU.need(access, user: user)
        if access == .execute {
            guard itlb.hit(vpn, need: need, write: false) else { return false }
            _counters.itlbHits &+= 1
        } else {
            guard dtlb.hit(vpn, need: need, write: access == .write) else { return false }
            _counters.dtlbHits &+= 1
        }
        return true
    }

    /// `count` calls of `translateL1Hit` in a row for `va`'s page, when its entry is already
    /// the most recent of its L1 set: each would hit that entry and move nothing, so they are
    /// counted at once (true). False, with nothing changed, when the first would not hit so.
    /// An access whose rights are a subset of `access`'s (a read after a write in the same
    /// mode) hits whenever `access` does.
    @inlinable @inline(__always)
    public func translateL1Repeats(_ va: UInt64, _ access: MMUAccess, user: Bool, count: UInt64) -> Bool {
        let vpn = (va >> 12) & MMU.vpnMask
        let need = MMU.need(access, user: user)
        if access == .execute {
            guard itlb.frontHit(vpn, need: need, write: false) else { return false }
            _counters.itlbHits &+= count
        } else {
            guard dtlb.frontHit(vpn, need: need, write: access == .write) else { return false }
            _counters.dtlbHits &+= count
        }
        return true
    }

    /// Finishes a TLB hit: the rights check on the cached bits, the dirty assist, and (for an
    /// STLB hit) the L1 fill.
    @inline(__always)
    private func useCached(
        _ value: UInt64, _ va: UInt64, _ vpn: UInt64, _ access: MMUAccess, _ user: Bool,
        _ need: UInt64, fillL1: Bool
    ) -> TranslateResult {
        guard PTE.grants(value, need) else { return fault(vpn, access, user, present: true) }
        if access == .write && value & PTE.dirty == 0 {
            // D is only ever set in memory, by a walk (SDM §4.8).
            _counters.dirtyAssists &+= 1
            return walk(va, vpn, access, user, need, cachesMissed: false)
        }
        if fillL1 {
            if access == .execute { itlb.fill(vpn, value) } else { dtlb.fill(vpn, value) }
        }
        return .ok(frame: (value & PTE.frameMask) >> 12)
    }

    /// Page walk in the active table: checks the leaf, sets A (and D for a write), clears and
    /// reports `PTE.watch`, and fills the STLB and the L1.
    @inline(never)
    private func walk(
        _ va: UInt64, _ vpn: UInt64, _ access: MMUAccess, _ user: Bool, _ need: UInt64,
        cachesMissed: Bool
    ) -> TranslateResult {
        _counters.walks &+= 1
        let write = access == .write
        let leaf = walkActiveTable(va, need, write)
        guard leaf & PTE.present != 0 else {
            return fault(vpn, access, user, present: false, cachesMissed: cachesMissed)
        }
        guard PTE.grants(leaf, need) else {
            return fault(vpn, access, user, present: true, cachesMissed: cachesMissed)
        }

        let value = (leaf | (write ? PTE.dirty : 0)) & TLB.cachedBits | PTE.present
        stlb.fill(vpn, value)
        if access == .execute { itlb.fill(vpn, value) } else { dtlb.fill(vpn, value) }
        let frame = (value & PTE.frameMask) >> 12
        return leaf & PTE.watch != 0 ? .firstUseOfWatched(frame: frame) : .ok(frame: frame)
    }

    /// `PageTable.walk` in the active table. A separate scope so the table reference dies before
    /// `walk` calls anything: otherwise it lives to the end of `walk`, across calls that (as far
    /// as the optimiser knows) might reassign `cr3`, and costs a retain/release pair per walk.
    @inline(__always)
    private func walkActiveTable(_ va: UInt64, _ need: UInt64, _ write: Bool) -> UInt64 {
        guard let table = cr3 else { preconditionFailure("MMU.translate before MMU.activate") }
        return table.walk(va, need: need, write: write)
    }

    /// Raises #PF: counts it, drops the page from every TLB (faults are never cached) and
    /// builds the error code.
    @inline(never)
    private func fault(
        _ vpn: UInt64, _ access: MMUAccess, _ user: Bool, present: Bool, cachesMissed: Bool = false
    ) -> TranslateResult {
        _counters.faults &+= 1
        if cachesMissed {
            // This access's L1 and the STLB were searched for `vpn` a moment ago and hold no
            // entry for it; only the other L1 may (a page both read and executed).
            if access == .execute { dtlb.invalidate(vpn) } else { itlb.invalidate(vpn) }
        } else {
            dtlb.invalidate(vpn)
            itlb.invalidate(vpn)
            stlb.invalidate(vpn)
        }
        var code: UInt32 = present ? PageFaultErrorCode.present : 0
        if access == .write { code |= PageFaultErrorCode.write }
        if user { code |= PageFaultErrorCode.user }
        if access == .execute { code |= PageFaultErrorCode.instructionFetch }
        return .fault(errorCode: code)
    }
}
