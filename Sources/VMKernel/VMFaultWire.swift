// Wiring: vm_fault_wire / vm_fault_unwire (seed:2300-2408), the user-wiring map walk behind
// mlock(2)/munlock(2) (vm_map_unwire with new_pageable FALSE/TRUE), and vm_fault_copy_entry
// (seed:2423), which fork uses for wired entries.

extension Kernel {
    /// sys_mlock then vm_map_unwire(map, start, end, FALSE) (vm_mmap.c, vm_map.c): wiring more
    /// pages than vm_page_max_wired allows is EAGAIN, a range with a hole (or past the map) is
    /// ENOMEM, both with nothing changed. Entries are wired in address order; if vm_fault_wire
    /// fails on one, that entry is backed out and every entry before it in the range is
    /// unwired again, those that were user-wired before this call included (the unwiring
    /// section runs over [start, failed entry's start)), and the call fails with ENOMEM.
    public func mlock(pid: UInt32, address: UInt64, length: UInt64) throws(KernelError) {
        let p = try process(pid)
        try checkRange(address, length)
        switchTo(p)
        let map = p.map
        // vm_page_max_wired is a third of the pages free at boot (research §7.2).
        guard Int(length >> pageShift) + physmem.wiredCount <= physmem.pageCount / 3 else { return syscallFailed() }
        // VM_MAP_RANGE_CHECK clamps to the map; vm_map_clip_range(MAP_CLIP_NO_HOLES) refuses holes.
        let end = Swift.min(address + length, vmMaxUserAddress)
        guard address < end, rangeIsMapped(map, address, end) else { return syscallFailed() }
        // Clip first: `map.entries` read in the same expression would be the unclipped copy.
        let range = vmMapClipRange(map, address, end)
        let entries = Array(map.entries[range])
        var failedAt: Int?
        for (n, entry) in entries.enumerated() {
            if entry.eflags.contains(.userWired) { continue }
            if entry.wiredCount != 0 {
                entry.wiredCount += 1
                entry.eflags.insert(.userWired)
                continue
            }
            // What vm_map_lookup would need the write lock for, done now.
            if entry.maptype != .submap {
                if entry.eflags.contains(.needsCopy) && entry.protection.contains(.write) {
                    vmMapEntryShadow(entry, addref: false)
                } else if entry.object == nil, entry.maptype == .normal {
                    entry.object = vmObjectAllocate(.default, size: entry.pageCount)
                    entry.offset = 0
                }
            }
            entry.wiredCount += 1
            entry.eflags.insert(.userWired)
            if vmFaultWire(p, entry, userWire: true) != .success {
                entry.eflags.remove(.userWired)
                entry.wiredCount = 0
                failedAt = n
                break
            }
        }
        if let failedAt {
            for entry in entries[..<failedAt] { unwireUser(map, entry) }
            syscallFailed()
        }
        simplifyRange(map, address, end) // vm_map_unclip_range
        map.timestamp &+= 1
    }

    /// sys_munlock then vm_map_unwire(map, start, end, TRUE): a hole is ENOMEM, and so is any
    /// entry of the range that is not user-wired (KERN_INVALID_ARGUMENT), both before anything
    /// is unwired.
    public func munlock(pid: UInt32, address: UInt64, length: UInt64) throws(KernelError) {
        let p = try process(pid)
        try checkRange(address, length)
        switchTo(p)
        let map = p.map
        let end = Swift.min(address + length, vmMaxUserAddress)
        guard address < end, rangeIsMapped(map, address, end) else { return syscallFailed() }
        let range = vmMapClipRange(map, address, end)
        let entries = map.entries[range]
        if entries.allSatisfy({ $0.eflags.contains(.userWired) }) {
            for entry in entries { unwireUser(map, entry) }
        } else {
            syscallFailed()
        }
        simplifyRange(map, address, end) // vm_map_unclip_range
        map.timestamp &+= 1
    }

    /// Drops an entry's user wiring; the pages are unwired when no wiring is left.
    private func unwireUser(_ map: VMMap, _ entry: VMMapEntry) {
        entry.eflags.remove(.userWired)
        entry.wiredCount -= 1
        if entry.wiredCount == 0 { vmFaultUnwire(map, entry) }
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

    /// vm_fault_unwire (seed:2378). Only a present PTE can be wired, so the walk visits the
    /// entry's present PTEs (the page table skips empty levels) rather than every page of the
    /// range: its cost follows what is mapped, not the entry's length.
    func vmFaultUnwire(_ map: VMMap, _ entry: VMMapEntry) {
        let fictitious = entry.object?.type == .device
        var present: [UInt64] = []
        map.pmap.table.forEachPresent(from: entry.start, to: entry.end) { va, _ in present.append(va) }
        for va in present {
            if let m = pmapUnwire(map.pmap, va), !fictitious {
                physmem.unwire(m, activate: true, meter: &meter)
            }
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
        dst.ptesAtMaxProtection = true
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
