// vm_prefault() and vm_prefault_quick() (seed:2704-3178): after a successful burst fault, map
// up to vm.prefault_pages neighbours, alternating +1, -1, +2, -2, ... (even i: +((i+2)/2) pages,
// odd i: -((i+1)/2)). Each entered page counts v_vm_faults and ru_minflt once, and is marked so
// its first later use counts as a prefault hit.

/// The candidate order and stopping rules both prefault routines share (seed:2757-2809,
/// 3047-3102): i = 0..<maxpages alternates +1, -1, +2, -2, ...; leaving the entry or finding a
/// valid PTE (pmap_prefault_ok) finishes that direction only; both finished ends the scan.
struct PrefaultScan {
    let addra: UInt64
    let start: UInt64
    let end: UInt64
    let maxpages: Int
    private var i = 0
    private var noneg = false
    private var nopos = false

    init(addra: UInt64, entry: VMMapEntry, maxpages: Int64) {
        self.addra = addra
        start = entry.start
        end = entry.end
        self.maxpages = Int(min(maxpages, 1024)) // "Limit pre-fault count to 1024 pages."
    }

    /// The next address to try, or nil when the scan is over. `prefaultOK` is pmap_prefault_ok.
    mutating func next(_ prefaultOK: (UInt64) -> Bool) -> UInt64? {
        while i < maxpages {
            let negative = i & 1 != 0
            let distance = UInt64(negative ? (i + 1) >> 1 : (i + 2) >> 1) * pageSize
            i += 1
            if negative ? noneg : nopos { continue }
            if negative {
                // An address below the entry (or below zero) finishes the negative side.
                guard distance <= addra, addra - distance >= start else {
                    noneg = true
                    if nopos { return nil }
                    continue
                }
            } else {
                let (addr, overflow) = addra.addingReportingOverflow(distance)
                guard !overflow, addr < end else {
                    nopos = true
                    if noneg { return nil }
                    continue
                }
            }
            let addr = negative ? addra - distance : addra + distance
            if !prefaultOK(addr) {
                if negative { noneg = true } else { nopos = true }
                if noneg && nopos { return nil }
                continue
            }
            return addr
        }
        return nil
    }
}

extension Kernel {
    /// vm_prefault (seed:2705): may walk the shadow chain and, with vm.fast_fault, zero-fill
    /// pages of the terminal DEFAULT object. Only runs with exclusive locks (seed:731).
    func vmPrefault(_ p: Proc, _ pmap: PMap, _ addra: UInt64, _ entry: VMMapEntry, _ prot: VMProt,
                    _ faultFlags: FaultFlags)
    {
        let maxpages = tunables.prefaultPages
        if maxpages <= 0 { return }
        // seed:2732 no virtual page tables, no foreign pmaps.
        if entry.maptype != .normal { return }
        if pmap !== currentPmap { return }
        guard let object = entry.object else { return }

        var scan = PrefaultScan(addra: addra, entry: entry, maxpages: maxpages)
        while let addr = scan.next({ pmapPrefaultOK(pmap, $0) }) {
            // seed:2824 follow the object chain for the page.
            let index = offToIdx(addr - entry.start + entry.offset)
            var lobject = object
            var pindex = index
            var pprot = prot
            var allocated = false
            var found = lobject.lookup(pindex)
            while found == nil {
                if lobject.type != .default { break }
                guard let backing = lobject.backingObject else {
                    // seed:2836 the terminal object: zero-fill if worthwhile.
                    if tunables.fastFault == 0 { break }
                    if !prot.contains(.write) || physmem.countMin(0) { break }
                    found = vmPageAlloc(object, index)
                    if found == nil { break }
                    allocated = true
                    pprot = prot
                    break
                }
                if lobject.backingObjectOffset & pageMask != 0 { break }
                pindex += offToIdx(lobject.backingObjectOffset)
                lobject = backing
                // Pages from deeper objects are mapped read-only.
                pprot.remove(.write)
                found = lobject.lookup(pindex)
            }
            // seed:2881 give up entirely when no page is available.
            guard let m = found else { break }

            if pprot.contains(.write), let o = m.object { vmObjectSetWriteableDirty(o) }
            if allocated {
                // seed:2937 a fresh zero-fill page, mapped and deactivated.
                m.valid = true
                meter.v_zfod += 1
                if pprot.contains(.write) { vmSetNosync(m, entry) }
                prefaultEnter(p, pmap, addr, m, pprot)
                physmem.deactivate(m, meter: &meter)
                if pprot.contains(.write) {
                    vmSetNosync(m, entry)
                    if faultFlags.contains(.dirty) {
                        m.markDirty()
                        swapPagerUnswapped(m)
                    }
                }
                counters.prefaultZfod += 1
            } else if m.valid && !m.flags.contains(.fictitious) {
                // seed:2967 a fully valid page can be entered; cached pages are deactivated.
                if m.queue == .cache { physmem.deactivate(m, meter: &meter) }
                if pprot.contains(.write) {
                    vmSetNosync(m, entry)
                    if faultFlags.contains(.dirty) {
                        m.markDirty()
                        swapPagerUnswapped(m)
                    }
                }
                prefaultEnter(p, pmap, addr, m, pprot)
            }
            // else: partially valid or fictitious — skipped, the scan goes on (seed:2992).
        }
    }

    /// vm_prefault_quick (seed:3004): terminal objects only, existing fully valid pages only; the
    /// first unavailable page ends the whole scan.
    func vmPrefaultQuick(_ p: Proc, _ pmap: PMap, _ addra: UInt64, _ entry: VMMapEntry,
                         _ prot: VMProt, _ faultFlags: FaultFlags)
    {
        let maxpages = tunables.prefaultPages
        if maxpages <= 0 { return }
        if entry.maptype != .normal { return }
        if pmap !== currentPmap { return }
        guard let object = entry.object else { return }
        // seed:3035 any backing object: no quick prefault at all.
        if object.backingObject != nil { return }

        var scan = PrefaultScan(addra: addra, entry: entry, maxpages: maxpages)
        while let addr = scan.next({ pmapPrefaultOK(pmap, $0) }) {
            let pindex = offToIdx(addr - entry.start + entry.offset)
            // seed:3117 the read-only shortcut: soft-busy lookup of a fully valid page.
            if !prot.contains(.write) {
                guard let m = object.lookup(pindex), m.valid, !m.flags.contains(.fictitious) else { break }
                if m.queue != .cache {
                    prefaultEnter(p, pmap, addr, m, prot)
                    continue
                }
            }
            // seed:3139 the hard-busy lookup.
            guard let m = object.lookup(pindex) else { break }
            if !m.valid || m.flags.contains(.fictitious)
                || (m.flags.contains(.swapped) && prot.contains(.write) && faultFlags.contains(.dirty))
            {
                break
            }
            if m.queue == .cache { physmem.deactivate(m, meter: &meter) }
            if prot.contains(.write) {
                if let o = m.object { vmObjectSetWriteableDirty(o) }
                vmSetNosync(m, entry)
                if faultFlags.contains(.dirty) { m.markDirty() }
            }
            prefaultEnter(p, pmap, addr, m, prot)
        }
    }

    /// Enters one prefaulted page: v_vm_faults and ru_minflt once each (seed:2951-2953,
    /// 2988-2990, 3124-3126, 3173-3175), watched so its first use counts as a prefault hit.
    private func prefaultEnter(_ p: Proc, _ pmap: PMap, _ addr: UInt64, _ m: VMPage, _ prot: VMProt) {
        pmapEnter(pmap, addr, m, prot, wired: false, watch: true)
        meter.v_vm_faults += 1
        p.rusage.ru_minflt += 1
        counters.prefaultPages += 1
    }
}
