// vm_fault_page() (seed:840): fault a page of some map in for the kernel — procfs and ptrace
// (a debugger's peek/poke), umtx — without entering it into that map's pmap.

public enum FaultPageOutcome: Equatable, Sendable {
    /// pmap_fault_page_quick found a usable mapping: no fault at all.
    case quick
    /// A formal fault resolved the page.
    case faulted
    case failed(KernReturn)
}

extension Kernel {
    /// vm_fault_page(map, vaddr, fault_type, VM_FAULT_NORMAL). The caller is another process (the
    /// debugger): there is no current user pmap during it. Its ru_minflt/ru_majflt are charged to
    /// the target process, since the debugger is not part of the trace.
    @discardableResult
    func vmFaultPage(_ p: Proc, _ vaddr: UInt64, _ faultTypeIn: VMProt) -> FaultPageOutcome {
        let map = p.map
        let origFaultType = faultTypeIn
        var faultType = faultTypeIn
        counters.faultPageCalls += 1

        // seed:870 pmap_fault_page_quick: a present PTE that allows the access.
        if let pte = map.pmap.table.pte(at: truncPage(vaddr)), pte.isPresent,
           !faultType.contains(.write) || pte.isWritable, !pte.isDevice
        {
            let m = physmem.page(frame: pte.frame)
            if faultType.contains(.write) { m.markDirty() }
            return .quick
        }

        let savedPmap = currentPmap
        currentPmap = nil // the debugger's context: no user pmap of the trace is current
        defer { currentPmap = savedPmap }

        let sharedFault = tunables.sharedFault != 0
        var shared = sharedFault
        var firstShared = sharedFault
        var growstack = true
        var didcow: WireFlags = []

        while true {
            var wflags: WireFlags = []
            var (rv, lookup) = vmMapLookup(map, vaddr, faultType, wflags: &wflags)
            if rv != .success {
                if rv == .invalidAddress && growstack {
                    // vm_map_growstack refuses a map that is not curproc's (no growth through
                    // procfs): the debugger is curproc.
                    rv = .failure
                    growstack = false
                }
                counters.faultPageErrors += 1
                return .failed(rv)
            }
            guard let l = lookup else { return .failed(.failure) }
            if l.entry.maptype == .uksmap { return .faulted }
            guard let object = l.object else { return .failed(.failure) }

            var fs = FaultState(m: nil, object: object, firstM: nil, firstObject: object,
                                firstProt: l.prot, map: map, entry: l.entry, faultFlags: .normal,
                                shared: shared, firstShared: firstShared, wflags: wflags)
            fs.mapGeneration = map.timestamp
            if fs.wflags.contains(.wired) { faultType = fs.firstProt }

            // seed:1081 a VPAGETABLE entry: walk the virtual page table first.
            var firstPindex = l.pindex
            if l.entry.maptype == .vpagetable {
                let result = vmFaultVPageTable(&fs, &firstPindex, l.entry.masterPDE, faultType, allowNofault: true)
                shared = fs.shared
                firstShared = fs.firstShared
                if result == .tryAgain { continue }
                if result != .success {
                    counters.faultPageErrors += 1
                    return .failed(result)
                }
            }

            // (no seed:589 shortcut in this function)
            let result = vmFaultObject(&fs, firstPindex, faultType, allowNofault: true)
            shared = fs.shared
            firstShared = fs.firstShared
            if result == .tryAgain {
                didcow.formUnion(fs.wflags.intersection(.didCOW))
                lookup = nil
                continue
            }
            if result != .success {
                counters.faultPageErrors += 1
                return .failed(result)
            }
            guard let m = fs.m else { return .failed(.failure) }
            // seed:1119 a write that could only be satisfied read-only fails.
            if origFaultType.contains(.write) && !fs.prot.contains(.write) {
                unlockThings(&fs)
                counters.faultPageErrors += 1
                return .failed(.protectionFailure)
            }
            m.setFlag(.referenced)
            // seed:1147 `(fs.wflags | didcow) | FW_DIDCOW` is always true: the target's PTE for
            // this page is always removed, so its next access faults again (SPEC §4).
            let va = truncPage(vaddr)
            if let pte = map.pmap.table.pte(at: va), pte.isPresent { pmapRemovePTE(map.pmap, va, pte) }
            _ = didcow
            unlockThings(&fs)
            if faultType.contains(.write) { m.markDirty() }
            physmem.activate(m, meter: &meter)
            // seed:1171 one count only, and no v_vm_faults (its increment is under #if 0).
            if fs.hardfault != 0 {
                p.rusage.ru_majflt += 1
            } else {
                p.rusage.ru_minflt += 1
            }
            return .faulted
        }
    }
}
