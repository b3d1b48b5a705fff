// Wiring: vm_fault_wire / vm_fault_unwire (seed:2300-2408), the user-wiring map walk behind
// mlock(2)/munlock(2) (vm_map_unwire with new_pageable FALSE/TRUE), and vm_fault_copy_entry
// (seed:2423), which fork uses for wired entries.

extension Kernel {
    /// mlock(2): wire every page of the range (each page is a simulated fault).
    public func mlock(pid: UInt32, address: UInt64, length: UInt64) throws(KernelError) {
        let p = try process(pid)
        try checkRange(address, length)
        switchTo(p)
        let map = p.map
        let end = address + length
        // Every page of the range must be mapped.
        var cursor = address
        while cursor < end {
            guard let i = map.entryIndex(containing: cursor) else {
                counters.syscallErrors += 1 // ENOMEM
                return
            }
            cursor = map.entries[i].end
        }
        let range = vmMapClipRange(map, address, end)
        var newlyWired: [VMMapEntry] = []
        for entry in map.entries[range] where !entry.eflags.contains(.userWired) {
            if entry.wiredCount == 0 {
                // Do what vm_map_lookup would need the write lock for, now.
                if entry.eflags.contains(.needsCopy) {
                    if entry.protection.contains(.write) { vmMapEntryShadow(entry, addref: false) }
                } else if entry.object == nil, entry.maptype == .normal {
                    entry.object = vmObjectAllocate(.default, size: entry.pageCount)
                    entry.offset = 0
                }
            }
            entry.wiredCount += 1
            entry.eflags.insert(.userWired)
            if entry.wiredCount == 1 { newlyWired.append(entry) }
        }
        map.timestamp &+= 1
        for entry in newlyWired where vmFaultWire(p, entry, userWire: true) != .success {
            counters.syscallErrors += 1
            entry.wiredCount -= 1
            entry.eflags.remove(.userWired)
        }
    }

    /// munlock(2)
    public func munlock(pid: UInt32, address: UInt64, length: UInt64) throws(KernelError) {
        let p = try process(pid)
        try checkRange(address, length)
        switchTo(p)
        let map = p.map
        let end = address + length
        let range = vmMapClipRange(map, address, end)
        for entry in map.entries[range] where entry.eflags.contains(.userWired) {
            entry.eflags.remove(.userWired)
            entry.wiredCount -= 1
            if entry.wiredCount == 0 { vmFaultUnwire(map, entry) }
        }
        simplifyRange(map, address, end)
    }

    /// vm_fault_wire (seed:2300): simulate a fault on every page of the entry.
    func vmFaultWire(_ p: Proc, _ entry: VMMapEntry, userWire: Bool) -> KernReturn {
        let wireProt: VMProt = userWire ? .read : [.read, .write]
        let flags: FaultFlags = userWire ? .userWire : .changeWiring
        let start = entry.start
        let end = entry.end
        var va = start
        while va < end {
            let rv = vmFault(p, va, wireProt, flags)
            if rv != .success {
                // Unwire what was wired so far.
                while va > start {
                    va -= pageSize
                    if let m = pmapUnwire(p.map.pmap, va), !m.flags.contains(.fictitious) {
                        physmem.unwire(m, activate: true, meter: &meter)
                    }
                }
                return rv
            }
            va += pageSize
        }
        return .success
    }

    /// vm_fault_unwire (seed:2378)
    func vmFaultUnwire(_ map: VMMap, _ entry: VMMapEntry) {
        let fictitious = entry.object?.type == .device
        var va = entry.start
        while va < entry.end {
            if let m = pmapUnwire(map.pmap, va), !fictitious {
                physmem.unwire(m, activate: true, meter: &meter)
            }
            va += pageSize
        }
    }

    /// vm_map_entry_unwire: drop every wiring of an entry (vm_map_delete).
    func vmMapEntryUnwire(_ map: VMMap, _ entry: VMMapEntry) {
        entry.eflags.remove(.userWired)
        entry.wiredCount = 0
        vmFaultUnwire(map, entry)
    }

    /// vm_fault_copy_entry (seed:2423): copy a wired entry's pages into the child now.
    func vmFaultCopyEntry(_ dstMap: VMMap, _ srcMap: VMMap, _ dst: VMMapEntry, _ src: VMMapEntry) {
        let dstObject = vmObjectAllocate(.default, size: dst.pageCount)
        dst.object = dstObject
        dst.offset = 0
        dst.wiredCount = 0
        let prot = dst.maxProtection
        guard let srcObject = src.object else { return }
        var va = dst.start
        var dstOffset: UInt64 = 0
        while va < dst.end {
            guard let dstM = vmPageAlloc(dstObject, offToIdx(dstOffset), system: true) else { break }
            // The source page "should be there" (the entry is wired); look down the chain too.
            var o: VMObject? = srcObject
            var idx = offToIdx(dstOffset + src.offset)
            var srcM: VMPage?
            while let obj = o, srcM == nil {
                srcM = obj.lookup(idx)
                idx += offToIdx(obj.backingObjectOffset)
                o = obj.backingObject
            }
            dstM.valid = true
            dstM.markDirty()
            if let srcM { copyPageContents(from: srcM, to: dstM) }
            pmapEnter(dstMap.pmap, va, dstM, prot, wired: false)
            physmem.activate(dstM, meter: &meter)
            va += pageSize
            dstOffset += pageSize
        }
    }
}
