// The machine-dependent layer (sys/platform/pc64/x86_64/pmap.c; research §6): a process's page
// tables, pv entries linking pages to their mappings, and the operations the VM system uses.
import X86MMU

public final class PMap {
    public let id: UInt32
    /// The hardware page tables this pmap manages.
    public let table: PageTable
    /// pm_stats.resident_count: terminal PTEs and page-table pages (research §6.2).
    @exclusivity(unchecked) public internal(set) var residentCount = 0
    /// pm_stats.wired_count
    @exclusivity(unchecked) public internal(set) var wiredCount = 0
    /// Frames backing the page-table pages (allocated VM_ALLOC_SYSTEM, wired, never freed while
    /// the pmap lives: machdep.pmap_dynamic_delete=0).
    @exclusivity(unchecked) var tableFrames: [VMPage] = []

    init(id: UInt32) {
        self.id = id
        self.table = PageTable()
    }

    /// pmap_resident_tlnw_count: resident minus wired (RSS as the RLIMIT_RSS check sees it).
    public var residentTLNWCount: Int { residentCount - wiredCount }
}

extension Kernel {
    func pmapCreate() -> PMap {
        nextPmapID += 1
        let pmap = PMap(id: nextPmapID)
        pmaps[pmap.id] = pmap
        chargeTablePages(pmap, pmap.table.tablePages)
        return pmap
    }

    /// Frees the page tables of a dead address space (pmap_release).
    func pmapDestroy(_ pmap: PMap) {
        pmapRemove(pmap, 0, vmMaxUserAddress)
        for f in pmap.tableFrames {
            physmem.unwire(f, activate: false, meter: &meter)
            physmem.freeFrame(f)
        }
        pmap.tableFrames.removeAll()
        pmaps[pmap.id] = nil
        if mmu.active === pmap.table { currentPmap = nil }
    }

    /// Page-table pages take physical memory (pmap_allocpte allocates them wired).
    private func chargeTablePages(_ pmap: PMap, _ n: Int) {
        guard n > 0 else { return }
        pmap.residentCount += n
        for _ in 0..<n {
            if let f = physmem.allocateFrame(system: true) {
                physmem.wire(f)
                pmap.tableFrames.append(f)
            }
        }
    }

    /// pte_prot plus the NX policy of machdep.pmap_nx_enable (research §6.2).
    private func pteBits(_ prot: VMProt) -> UInt64 {
        var bits: UInt64 = 0
        if prot.contains(.write) { bits |= PTE.writable }
        if !prot.contains(.execute) {
            switch tunables.pmapNxEnable {
            case 1: if !prot.contains(.write) { bits |= PTE.noExecute }
            case 2: bits |= PTE.noExecute
            default: break
            }
        }
        return bits
    }

    /// pmap_enter(pmap, va, m, prot, wired): install or replace the mapping of `va`.
    /// `watch` marks a prefaulted PTE so its first use can be counted (prefault.hits).
    func pmapEnter(_ pmap: PMap, _ va: UInt64, _ m: VMPage, _ prot: VMProt, wired: Bool,
                   watch: Bool = false)
    {
        var raw = (m.frame << 12) | PTE.present | PTE.accessed | PTE.user | pteBits(prot)
        if wired { raw |= PTE.wired }
        if m.flags.contains(.fictitious) { raw |= PTE.device } else if !m.flags.contains(.unmanaged) {
            raw |= PTE.managed
        }
        if let old = pmap.table.pte(at: va), old.isPresent {
            let ignore = PTE.accessed | PTE.dirty | PTE.watch
            if old.raw & ~ignore == raw & ~ignore {
                return // differs only in A/M: concurrent faults are idempotent
            }
            pmapRemovePTE(pmap, va, old)
        }
        if watch { raw |= PTE.watch }
        let (_, newTables) = pmap.table.setPTE(at: va, PTE(raw: raw))
        chargeTablePages(pmap, newTables)
        pmap.residentCount += 1
        if wired { pmap.wiredCount += 1 }
        if !m.flags.contains(.fictitious) {
            m.addMapping(PVEntry(pmapID: pmap.id, va: va))
            m.setFlag(.mapped)
            if prot.contains(.write) { m.setFlag(.writeable) }
        }
        // pmap_enter's invlpg: counted, but there is nothing to drop. Either the old PTE was not
        // present (no TLB caches that) or pmapRemovePTE just invalidated the page.
        mmu.invalidateKnownAbsent(pmap.table, va: va)
    }

    /// pmap_enter_quick: a read-only, unwired mapping (pmap_object_init_pt).
    func pmapEnterQuick(_ pmap: PMap, _ va: UInt64, _ m: VMPage) {
        if let old = pmap.table.pte(at: va), old.isPresent { return }
        pmapEnter(pmap, va, m, [.read], wired: false)
    }

    /// Removes one present PTE: the pv entry goes, A and M move into the page
    /// (PG_REFERENCED, vm_page_dirty), an unused prefault is counted.
    func pmapRemovePTE(_ pmap: PMap, _ va: UInt64, _ pte: PTE) {
        pmap.table.clearPTE(at: va)
        pmapRemoveCleared(pmap, va, pte, invalidate: true)
    }

    /// pmapRemovePTE's work after the PTE is zeroed: nothing here reads or writes the page
    /// table, so `pmapRemove` can run it while visiting the table; and nothing but the
    /// invalidation touches a TLB, so `pmapRemove` may do those for the range at the end.
    private func pmapRemoveCleared(_ pmap: PMap, _ va: UInt64, _ pte: PTE, invalidate: Bool) {
        if invalidate { mmu.invalidate(pmap.table, va: va) }
        pmap.residentCount -= 1
        if pte.raw & PTE.wired != 0 { pmap.wiredCount -= 1 }
        if pte.raw & PTE.watch != 0 {
            counters.prefaultUnused += 1
            observer?.prefaultUnused(pmapID: pmap.id, va: va)
        }
        if pte.raw & PTE.device != 0 { return }
        let m = physmem.page(frame: pte.frame)
        if pte.raw & PTE.dirty != 0 { m.markDirty() }
        if pte.raw & PTE.accessed != 0 { m.setFlag(.referenced) }
        m.removeMapping(PVEntry(pmapID: pmap.id, va: va))
        if m.mappingCount == 0 { m.clearFlag([.mapped, .writeable]) }
    }

    /// pmap_remove(pmap, start, end)
    func pmapRemove(_ pmap: PMap, _ start: UInt64, _ end: UInt64) {
        // Each PTE is zeroed where the walk finds it (forEachPresent stores it back) and then
        // removed, in address order as before; no list of victims (an exit of a large
        // process would build one entry per resident page). Over more than 64 pages the TLB
        // invalidations are done in one pass at the end (MMU.invalidateRange), except in an
        // audited replay, which invalidates page by page and then checks that the one pass
        // would have dropped nothing more.
        let bulk = end &- start > 64 &* pageSize && !mmu.verifyElidedInvalidations
        var removed = 0
        pmap.table.forEachPresent(from: start, to: end) { va, pte in
            let old = pte
            pte = PTE(raw: 0)
            pmapRemoveCleared(pmap, va, old, invalidate: !bulk)
            removed &+= 1
        }
        if bulk {
            mmu.invalidateRange(pmap.table, from: start, to: end, count: removed)
        } else if mmu.verifyElidedInvalidations {
            mmu.checkRangeInvalidated(pmap.table, from: start, to: end)
        }
    }

    /// pmap_remove_specific(pmap, m): unmap one page from one pmap (a COW copy's source page).
    func pmapRemoveSpecific(_ pmap: PMap, _ m: VMPage) {
        while let pv = m.mapping(in: pmap.id), let pte = pmap.table.pte(at: pv.va), pte.isPresent {
            pmapRemovePTE(pmap, pv.va, pte)
        }
    }

    /// vm_page_protect(m, VM_PROT_NONE): remove every mapping of the page (pmap_remove_all).
    func vmPageProtectNone(_ m: VMPage) {
        for pv in m.mappings {
            guard let pmap = pmaps[pv.pmapID], let pte = pmap.table.pte(at: pv.va), pte.isPresent
            else { continue }
            pmapRemovePTE(pmap, pv.va, pte)
        }
    }

    /// vm_page_protect(m, VM_PROT_READ): write-protect every mapping of the page.
    func vmPageProtectReadOnly(_ m: VMPage) {
        for pv in m.mappings {
            guard let pmap = pmaps[pv.pmapID] else { continue }
            pmapProtectPTE(pmap, pv.va)
        }
        m.clearFlag(.writeable)
    }

    private func pmapProtectPTE(_ pmap: PMap, _ va: UInt64) {
        var changed = false
        pmap.table.updatePTE(at: va) { pte in
            guard pte.isPresent, pte.raw & PTE.writable != 0 else { return }
            if pte.raw & PTE.device == 0 {
                let m = physmem.page(frame: pte.frame)
                if pte.raw & PTE.accessed != 0 { m.setFlag(.referenced) }
                if pte.raw & PTE.dirty != 0 { m.markDirty() }
            }
            pte.raw &= ~(PTE.writable | PTE.accessed | PTE.dirty)
            changed = true
        }
        if changed { mmu.invalidate(pmap.table, va: va) }
    }

    /// pmap_protect(pmap, start, end, prot): only ever removes rights; without READ the range is
    /// unmapped, without WRITE the PTEs lose RW and their A/M bits move into the pages.
    func pmapProtect(_ pmap: PMap, _ start: UInt64, _ end: UInt64, _ prot: VMProt) {
        if !prot.contains(.read) {
            pmapRemove(pmap, start, end)
            return
        }
        if prot.contains(.write) { return }
        var vas: [UInt64] = []
        pmap.table.forEachPresent(from: start, to: end) { va, pte in
            if pte.raw & PTE.writable != 0 { vas.append(va) }
        }
        for va in vas { pmapProtectPTE(pmap, va) }
    }

    /// pmap_prefault_ok: FALSE iff a valid PTE is already there (research §6.1).
    @inline(__always) func pmapPrefaultOK(_ pmap: PMap, _ va: UInt64) -> Bool {
        guard let pte = pmap.table.pte(at: va) else { return true }
        return !pte.isPresent
    }

    /// pmap_unwire: clear the software wired bit, returning the page.
    func pmapUnwire(_ pmap: PMap, _ va: UInt64) -> VMPage? {
        guard let pte = pmap.table.pte(at: va), pte.isPresent else { return nil }
        if pte.raw & PTE.wired != 0 {
            pmap.table.updatePTE(at: va) { $0.raw &= ~PTE.wired }
            pmap.wiredCount -= 1
        }
        if pte.raw & PTE.device != 0 { return nil }
        return physmem.page(frame: pte.frame)
    }

    /// pmap_ts_referenced: harvest and clear the accessed bits of a page's mappings.
    func pmapTSReferenced(_ m: VMPage) -> Int {
        var refs = 0
        for pv in m.mappings {
            guard let pmap = pmaps[pv.pmapID] else { continue }
            var hit = false
            pmap.table.updatePTE(at: pv.va) { pte in
                if pte.raw & PTE.accessed != 0 {
                    pte.raw &= ~PTE.accessed
                    hit = true
                }
            }
            if hit {
                refs += 1
                mmu.invalidate(pmap.table, va: pv.va)
            }
        }
        return refs
    }

    /// pmap_is_modified: any mapping's M bit.
    func pmapIsModified(_ m: VMPage) -> Bool {
        for pv in m.mappings {
            if let pmap = pmaps[pv.pmapID], let pte = pmap.table.pte(at: pv.va),
               pte.raw & PTE.dirty != 0
            { return true }
        }
        return false
    }
}
