// Grow-down stacks: vm_map_stack and vm_map_growstack (sys/vm/vm_map.c; research §2.4).

extension Kernel {
    /// vm_map_stack(map, addrbos, max_ssize, prot, max, cow): reserve [addrbos, addrbos+max_ssize),
    /// map only its top min(max_ssize, kern.sgrowsiz) now.
    func vmMapStack(_ p: Proc, _ addrbos: UInt64, _ maxSSize: UInt64, _ prot: VMProt, _ max: VMProt,
                    _ flags: InsertFlags) -> KernReturn
    {
        let map = p.map
        let sgrowsiz = UInt64(tunables.sgrowsiz)
        let initSSize = maxSSize < sgrowsiz ? maxSSize : sgrowsiz
        if map.entryIndex(containing: addrbos) != nil { return .noSpace }
        let next = map.firstIndex(endingAbove: addrbos)
        if next < map.entries.count, map.entries[next].start < addrbos + maxSSize { return .noSpace }
        let top = addrbos + maxSSize
        let rv = vmMapInsert(map, object: nil, offset: 0, start: top - initSSize, end: top,
                             subsystem: .stack, prot: prot, max: max, flags: flags.union(.isStack))
        if rv == .success, let i = map.entryIndex(containing: top - initSSize) {
            map.entries[i].availSSize = maxSSize - initSSize
        }
        return rv
    }

    /// vm_map_growstack(map, addr): called by vm_fault when the lookup found no entry.
    func vmMapGrowstack(_ p: Proc, _ addr: UInt64) -> KernReturn {
        let map = p.map
        // Already mapped: nothing to grow (vm_fault retries and normally fails again).
        if map.entryIndex(containing: addr) != nil { return .success }
        let stackIndex = map.firstIndex(endingAbove: addr)
        guard stackIndex < map.entries.count else { return .success } // no entry above
        let stackEntry = map.entries[stackIndex]
        let end: UInt64
        if stackIndex == 0 {
            end = stackEntry.start >= stackEntry.availSSize ? stackEntry.start - stackEntry.availSSize : 0
        } else {
            end = map.entries[stackIndex - 1].end
        }
        // "If not growable stack, return success": a documented oddity; the retried lookup fails.
        if stackEntry.availSSize < 1 || addr >= stackEntry.start
            || addr < stackEntry.start &- stackEntry.availSSize
        {
            return .success
        }
        var growAmount = roundUp(stackEntry.start - addr, pageSize)
        if growAmount > stackEntry.availSSize { return .noSpace }
        if growAmount > stackEntry.start - end {
            stackEntry.availSSize = stackEntry.start - end
            return .noSpace
        }
        let isProcStack = addr >= p.maxStackAddress
        let stackLimit = UInt64(tunables.dflssiz)
        if isProcStack, UInt64(p.stackPages) * pageSize + growAmount > stackLimit { return .noSpace }
        growAmount = roundUp(growAmount, UInt64(tunables.sgrowsiz))
        if growAmount > stackEntry.availSSize { growAmount = stackEntry.availSSize }
        if isProcStack, UInt64(p.stackPages) * pageSize + growAmount > stackLimit {
            growAmount = stackLimit - UInt64(p.stackPages) * pageSize
        }
        var newStart = stackEntry.start - growAmount
        if newStart < end {
            stackEntry.availSSize = stackEntry.start - end
            newStart = end
        }
        let oldStart = stackEntry.start
        // The grown piece is a new RWX entry without MAP_ENTRY_STACK (vm_map_insert of VM_PROT_ALL).
        let rv = vmMapInsert(map, object: nil, offset: 0, start: newStart, end: oldStart,
                             subsystem: .stack, prot: .all, max: .all, flags: [])
        if rv == .success, let i = map.entryIndex(containing: oldStart - pageSize) {
            let grown = map.entries[i]
            grown.availSSize = stackEntry.availSSize - (oldStart - newStart)
            if isProcStack { p.stackPages += Int64((oldStart - newStart) >> pageShift) }
        }
        return rv
    }
}
