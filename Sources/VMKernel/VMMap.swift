// struct vm_map (sys/vm/vm_map.h) and the map operations of vm_map.c: entry lookup, clipping,
// vm_map_insert with its coalescing, vm_map_delete, vm_map_protect, vm_map_madvise,
// vm_map_inherit, vm_map_simplify_entry, and vm_map_lookup, the fault path's lookup
// (research §2).

public final class VMMap {
    /// Entries in address order, non-overlapping (DragonFly keeps an RB tree plus a list; this
    /// is a two-level B+ tree, VMMapEntryList, so inserting anywhere is cheap).
    @exclusivity(unchecked) public internal(set) var entries = VMMapEntryList()
    public let pmap: PMap
    /// map->timestamp: bumped by every exclusive lock; vm_fault's virtual-copy test reads it.
    @exclusivity(unchecked) var timestamp: UInt32 = 0
    /// map->size: bytes mapped.
    @exclusivity(unchecked) public internal(set) var size: UInt64 = 0

    init(pmap: PMap) {
        self.pmap = pmap
    }

    /// map->hint: the entry the last successful lookup found, with its position and the list's
    /// generation then. vm_map_lookup_entry tries it before searching; faults tend to hit the
    /// entry the previous fault hit.
    @exclusivity(unchecked) private var hintEntry: VMMapEntry?
    @exclusivity(unchecked) private var hintPosition = 0
    @exclusivity(unchecked) private var hintGeneration: UInt64 = .max

    /// The entry containing `va` and its index (vm_map_lookup_entry returning TRUE). The hint is
    /// checked against the entry's live bounds (clipping changes them in place), and the
    /// position stays valid while no entry was inserted or removed.
    func lookupEntry(containing va: UInt64) -> (index: Int, entry: VMMapEntry)? {
        if hintGeneration == entries.generation, let hint = hintEntry, hint.start <= va, va < hint.end {
            return (hintPosition, hint)
        }
        let i = entries.firstIndex(endingAbove: va)
        guard i < entries.count else { return nil }
        let entry = entries[i]
        guard entry.start <= va else { return nil }
        hintEntry = entry
        hintPosition = i
        hintGeneration = entries.generation
        return (i, entry)
    }

    /// Index of the entry containing `va` (vm_map_lookup_entry returning TRUE).
    func entryIndex(containing va: UInt64) -> Int? {
        lookupEntry(containing: va)?.index
    }

    /// Index of the first entry whose end is above `va` (the entry containing it, or the next).
    func firstIndex(endingAbove va: UInt64) -> Int {
        entries.firstIndex(endingAbove: va)
    }

    public func entry(containing va: UInt64) -> VMMapEntry? {
        lookupEntry(containing: va)?.entry
    }
}

/// Copy-on-write and prefault flags for vm_map_insert (vm_map.h MAP_*).
struct InsertFlags: OptionSet {
    let rawValue: Int
    static let copyOnWrite = InsertFlags(rawValue: 1 << 0) // MAP_COPY_ON_WRITE
    static let nosync = InsertFlags(rawValue: 1 << 1) // MAP_DISABLE_SYNCER
    static let isStack = InsertFlags(rawValue: 1 << 2) // MAP_IS_STACK
    static let prefaultPartial = InsertFlags(rawValue: 1 << 3) // MAP_PREFAULT_PARTIAL
    static let prefault = InsertFlags(rawValue: 1 << 4) // MAP_PREFAULT
}

extension Kernel {
    // MARK: clipping

    /// vm_map_clip_start: split the entry at `index` so that it starts at `addr`. Returns the
    /// index of the entry that now starts at `addr` (or of the unsplit entry). _vm_map_clip_start
    /// simplifies the entry before splitting it (vm_map.c), which can merge the previous entry
    /// into it, so that index is not always `index + 1`: callers must use the result.
    @discardableResult
    func vmMapClipStart(_ map: VMMap, _ index: Int, _ addr: UInt64) -> Int {
        guard addr > map.entries[index].start else { return index }
        let index = vmMapSimplifyEntry(map, index)
        let entry = map.entries[index]
        allocateObjectBeforeClip(entry)
        let front = entry.clone()
        front.wiredCount = entry.wiredCount // *new_entry = *entry: both halves stay wired
        front.end = addr
        entry.offset += addr - entry.start
        entry.start = addr
        if let o = front.object { vmObjectReference(o) }
        map.entries.insert(front, at: index)
        return index + 1
    }

    /// Clipping a NULL-object entry inside one partition allocates its object first, so both
    /// halves share it (research §2.1); entries spanning partitions stay lazy.
    private func allocateObjectBeforeClip(_ entry: VMMapEntry) {
        if entry.object == nil, entry.maptype == .normal, entry.withinPartition {
            entry.object = vmObjectAllocate(.default, size: entry.pageCount)
            entry.offset = 0
        }
    }

    /// vm_map_clip_end: split the entry at `index` so that it ends at `addr`.
    func vmMapClipEnd(_ map: VMMap, _ index: Int, _ addr: UInt64) {
        let entry = map.entries[index]
        guard addr < entry.end else { return }
        allocateObjectBeforeClip(entry)
        let back = entry.clone()
        back.wiredCount = entry.wiredCount
        back.start = addr
        back.offset += addr - entry.start
        entry.end = addr
        if let o = back.object { vmObjectReference(o) }
        map.entries.insert(back, at: index + 1)
    }

    /// Clips entries so that [start, end) is covered by whole entries; returns their index range.
    func vmMapClipRange(_ map: VMMap, _ start: UInt64, _ end: UInt64) -> Range<Int> {
        var first = map.firstIndex(endingAbove: start)
        if first < map.entries.count, map.entries[first].start < start {
            first = vmMapClipStart(map, first, start)
        }
        var last = first
        while last < map.entries.count, map.entries[last].start < end {
            if map.entries[last].end > end { vmMapClipEnd(map, last, end) }
            last += 1
        }
        return first..<last
    }

    // MARK: insert (research §2.2)

    /// vm_map_insert: map [start, end) to (object, offset). Anonymous (NULL object) requests are
    /// coalesced into an abutting compatible previous entry, as brk and heap growth are.
    @discardableResult
    func vmMapInsert(_ map: VMMap, object: VMObject?, offset: UInt64, start: UInt64, end: UInt64,
                     maptype: MapType = .normal, subsystem: MapSubsystem, prot: VMProt,
                     max: VMProt, flags: InsertFlags) -> KernReturn
    {
        guard start < end, end <= vmMaxUserAddress else { return .invalidAddress }
        let next = map.firstIndex(endingAbove: start)
        if next < map.entries.count, map.entries[next].start < end { return .noSpace }
        var protoEflags: EntryFlags = []
        if flags.contains(.copyOnWrite) { protoEflags.formUnion([.cow, .needsCopy]) }
        if flags.contains(.nosync) { protoEflags.insert(.nosync) }
        if flags.contains(.isStack) { protoEflags.insert(.stack) }

        var object = object
        var offset = offset
        if let o = object {
            // An object that may be shared with another mapping is no longer ONEMAPPING
            // (vm_map_insert; the flag only means something for DEFAULT/SWAP objects).
            if o.refCount > 1 || !o.shadows.isEmpty { o.flags.remove(.oneMapping) }
        } else if next > 0 {
            let prev = map.entries[next - 1]
            if prev.end == start, prev.eflags.subtracting(.noCoreDump) == protoEflags,
               prev.maptype == maptype, maptype == .normal, prev.subsystem == subsystem,
               prev.wiredCount == 0,
               vmObjectCoalesce(prev.object, prevIndex: offToIdx(prev.offset),
                                prevSize: prev.end - prev.start, nextSize: end - prev.end)
            {
                if prev.inheritance == .copy, prev.protection == prot, prev.maxProtection == max {
                    map.size += end - prev.end
                    prev.end = end
                    // The extended entry may now meet its neighbours (vm_map.c vm_map_insert).
                    vmMapSimplifyEntry(map, next - 1)
                    return .success
                }
                // The object was extended but the entry cannot be: a new entry shares it.
                object = prev.object
                offset = prev.offset + (prev.end - prev.start)
                if let o = object { vmObjectReference(o) }
            }
        }
        let entry = VMMapEntry(start: start, end: end, object: object, offset: offset,
                               eflags: protoEflags, protection: prot, maxProtection: max,
                               maptype: maptype, subsystem: subsystem)
        map.entries.insert(entry, at: next)
        map.size += end - start
        if flags.contains(.prefault) || flags.contains(.prefaultPartial), let o = object {
            pmapObjectInitPT(map, start, prot, o, offToIdx(offset), end - start,
                             partial: !flags.contains(.prefault), madvise: false)
        }
        return .success
    }

    /// vm_object_coalesce: may an anonymous object grow to cover the next range?
    func vmObjectCoalesce(_ prev: VMObject?, prevIndex: Int64, prevSize: UInt64, nextSize: UInt64) -> Bool {
        guard let prev else { return true }
        guard prev.type.isAnonymous else { return false }
        vmObjectCollapse(prev)
        if prev.backingObject != nil { return false }
        let prevPages = Int64(prevSize >> pageShift)
        let nextPages = Int64(nextSize >> pageShift)
        let nextIndex = prevIndex + prevPages
        if prev.refCount > 1 && prev.size != nextIndex { return false }
        // Remove pages left in the object from an earlier deallocation.
        if nextIndex < prev.size {
            vmObjectPageRemove(prev, nextIndex, nextIndex + nextPages)
        }
        if nextIndex + nextPages > prev.size { prev.size = nextIndex + nextPages }
        return true
    }

    /// vm_object_page_remove(object, start, end, clean_only=FALSE)
    func vmObjectPageRemove(_ o: VMObject, _ start: Int64, _ end: Int64) {
        let victims = o.memq.pages(from: start, to: end)
        for m in victims where m.wireCount == 0 { vmPageFree(m) }
        for (pindex, block) in o.swapBlocks where pindex >= start && pindex < end {
            swapSpace.free(block)
            o.swapBlocks[pindex] = nil
        }
    }

    // MARK: delete

    /// vm_map_delete: unmap [start, end): remove PTEs, free the pages of anonymous objects that
    /// only this range could see, drop the entries' object references.
    func vmMapDelete(_ map: VMMap, _ start: UInt64, _ end: UInt64) {
        let range = vmMapClipRange(map, start, end)
        guard !range.isEmpty else { return }
        let doomed = Array(map.entries[range])
        map.entries.removeSubrange(range)
        map.timestamp &+= 1
        for entry in doomed {
            if entry.wiredCount != 0 { vmMapEntryUnwire(map, entry) }
            pmapRemove(map.pmap, entry.start, entry.end)
            if let o = entry.object, o.type.isAnonymous, o.refCount != 1,
               o.flags.intersection([.noSplit, .oneMapping]) == .oneMapping
            {
                let startIndex = offToIdx(entry.offset)
                let endIndex = startIndex + entry.pageCount
                vmObjectCollapse(o)
                vmObjectPageRemove(o, startIndex, endIndex)
                if endIndex >= o.size && startIndex < o.size { o.size = startIndex }
            }
            map.size -= entry.end - entry.start
            if entry.maptype != .uksmap { vmObjectDeallocate(entry.object) }
            entry.object = nil
        }
    }

    // MARK: protect, inherit, madvise

    /// vm_map_protect(map, start, end, prot, set_max=FALSE). Fails without changing anything if
    /// the new protection exceeds an entry's max_protection.
    func vmMapProtect(_ map: VMMap, _ start: UInt64, _ end: UInt64, _ prot: VMProt) -> KernReturn {
        let first = map.firstIndex(endingAbove: start)
        var i = first
        while i < map.entries.count, map.entries[i].start < end {
            if !map.entries[i].maxProtection.isSuperset(of: prot) { return .protectionFailure }
            i += 1
        }
        let range = vmMapClipRange(map, start, end)
        map.timestamp &+= 1
        for entry in map.entries[range] {
            let old = entry.protection
            entry.protection = prot
            if old != prot {
                // MASK(entry): COW entries never get a writable PTE from a protection change.
                let mask: VMProt = entry.eflags.contains(.cow) ? [.read, .execute] : .all
                pmapProtect(map.pmap, entry.start, entry.end, prot.intersection(mask))
            }
        }
        simplifyRange(map, start, end)
        return .success
    }

    /// vm_map_inherit
    func vmMapInherit(_ map: VMMap, _ start: UInt64, _ end: UInt64, _ inheritance: Inheritance) {
        let range = vmMapClipRange(map, start, end)
        for entry in map.entries[range] { entry.inheritance = inheritance }
        simplifyRange(map, start, end)
    }

    /// vm_map_madvise: behaviour advice clips and marks entries; WILLNEED, DONTNEED and FREE act
    /// on the pages (vm_object_madvise) and WILLNEED also maps resident file pages.
    func vmMapMadvise(_ map: VMMap, _ start: UInt64, _ end: UInt64, _ advice: MadviseAdvice) {
        switch advice {
        case .normal, .sequential, .random:
            let range = vmMapClipRange(map, start, end)
            for entry in map.entries[range] {
                entry.eflags.subtract(EntryFlags.behaviorMask)
                if advice == .sequential { entry.eflags.insert(.behavSequential) }
                if advice == .random { entry.eflags.insert(.behavRandom) }
            }
            simplifyRange(map, start, end)
        case .inval:
            vmMapMadviseInval(map, start, end)
        case .willneed, .dontneed, .free:
            var i = map.firstIndex(endingAbove: start)
            while i < map.entries.count, map.entries[i].start < end {
                let entry = map.entries[i]
                i += 1
                guard entry.maptype == .normal, let o = entry.object else { continue }
                let useStart = Swift.max(start, entry.start)
                let useEnd = Swift.min(end, entry.end)
                let pindex = offToIdx(useStart - entry.start + entry.offset)
                let count = Int64((useEnd - useStart) >> pageShift)
                vmObjectMadvise(o, pindex, count, advice)
                if advice == .willneed {
                    pmapObjectInitPT(map, useStart, entry.protection, o, pindex, useEnd - useStart,
                                     partial: false, madvise: true)
                }
            }
        }
    }

    /// vm_object_madvise: per page, following the shadow chain for WILLNEED/DONTNEED.
    func vmObjectMadvise(_ object: VMObject, _ pindex: Int64, _ count: Int64, _ advice: MadviseAdvice) {
        for p in pindex..<(pindex + count) {
            var tobject = object
            var tpindex = p
            var found: VMPage?
            while true {
                if advice == .free && (!tobject.type.isAnonymous || !tobject.flags.contains(.oneMapping)) {
                    break
                }
                if let m = tobject.lookup(tpindex) {
                    found = m
                    break
                }
                guard advice != .free, let b = tobject.backingObject else { break }
                tpindex += offToIdx(tobject.backingObjectOffset)
                tobject = b
            }
            guard let m = found, m.wireCount == 0, m.valid, !m.flags.contains(.fictitious) else { continue }
            switch advice {
            case .willneed:
                physmem.activate(m, meter: &meter)
            case .dontneed:
                vmPageDontneed(m)
            case .free:
                m.dirty = false
                m.actCount = 0
                vmPageDontneed(m)
                if let block = tobject.swapBlocks.removeValue(forKey: tpindex) { swapSpace.free(block) }
            default:
                break
            }
        }
    }

    /// vm_page_dontneed: move the page toward reuse (inactive queue).
    func vmPageDontneed(_ m: VMPage) {
        m.clearFlag(.referenced)
        physmem.deactivate(m, meter: &meter)
    }

    /// vm_map_simplify_entry over the entries of [start, end), as vm_map_protect,
    /// vm_map_inherit, vm_map_madvise and the unwire path call it: each entry in turn, which
    /// also lets the first merge with the entry before the range and the last with the one after.
    func simplifyRange(_ map: VMMap, _ start: UInt64, _ end: UInt64) {
        var i = map.firstIndex(endingAbove: start)
        while i < map.entries.count, map.entries[i].start < end {
            i = vmMapSimplifyEntry(map, i) + 1
        }
    }

    /// vm_map_simplify_entry (vm_map.c): merge the entry at `index` with its previous and then
    /// its next neighbour where nothing tells them apart. The entry survives (it absorbs the
    /// others, whose object references are dropped); returns its index afterwards, one less
    /// when the previous entry was merged into it. Submaps and uksmaps are left alone, and so
    /// is an entry in transition (v_intrans_coll; never the case in a replay).
    @discardableResult
    func vmMapSimplifyEntry(_ map: VMMap, _ index: Int) -> Int {
        let entry = map.entries[index]
        if entry.eflags.contains(.inTransition) || entry.maptype == .submap || entry.maptype == .uksmap {
            return index
        }
        var index = index
        if index > 0, Kernel.mayMerge(map.entries[index - 1], entry) {
            let prev = map.entries[index - 1]
            entry.start = prev.start
            entry.offset = prev.offset
            entry.ptesAtMaxProtection = entry.ptesAtMaxProtection || prev.ptesAtMaxProtection
            map.entries.remove(at: index - 1)
            index -= 1
            vmObjectDeallocate(prev.object)
        }
        if index + 1 < map.entries.count, Kernel.mayMerge(entry, map.entries[index + 1]) {
            let next = map.entries[index + 1]
            entry.end = next.end
            entry.ptesAtMaxProtection = entry.ptesAtMaxProtection || next.ptesAtMaxProtection
            map.entries.remove(at: index + 1)
            vmObjectDeallocate(next.object)
        }
        return index
    }

    /// vm_map_simplify_entry's test: adjacent, the same object (or both none) continuing at the
    /// right offset, and equal maptype, eflags, protections, inheritance, id and wiring.
    private static func mayMerge(_ prev: VMMapEntry, _ next: VMMapEntry) -> Bool {
        prev.end == next.start && prev.maptype == next.maptype && prev.object === next.object
            && (prev.object == nil || prev.offset + (prev.end - prev.start) == next.offset)
            && prev.eflags == next.eflags && prev.protection == next.protection
            && prev.maxProtection == next.maxProtection && prev.inheritance == next.inheritance
            && prev.subsystem == next.subsystem && prev.wiredCount == next.wiredCount
    }

    // MARK: vm_map_lookup (research §2.1)

    struct LookupResult {
        var entry: VMMapEntry
        var object: VMObject?
        var pindex: Int64
        var prot: VMProt
    }

    /// vm_map_lookup(&map, vaddr, fault_type, &entry, &object, &pindex, &prot, &wflags)
    func vmMapLookup(_ map: VMMap, _ vaddr: UInt64, _ faultTypeIn: VMProt,
                     wflags: inout WireFlags) -> (KernReturn, LookupResult?)
    {
        wflags = []
        guard let found = map.lookupEntry(containing: vaddr) else { return (.invalidAddress, nil) }
        var index = found.index
        var entry = found.entry
        var prot = faultTypeIn.contains(.overrideWrite) ? entry.maxProtection : entry.protection
        var faultType = faultTypeIn.intersection(.all)
        if faultType.intersection(prot) != faultType { return (.protectionFailure, nil) }
        if entry.eflags.contains(.userWired), entry.eflags.contains(.cow), faultType.contains(.write),
           !faultTypeIn.contains(.overrideWrite)
        {
            return (.protectionFailure, nil)
        }
        if entry.wiredCount != 0 {
            // A wired entry is faulted with its full protection (research §2.1 step 6).
            wflags.insert(.wired)
            prot = entry.protection
            faultType = entry.protection
        }
        // vm_map.c: a writable VPAGETABLE entry upgrades the fault so the walk can set the A bit
        // (research §2.1 item 7); only this lookup sees the upgrade (NEEDS_COPY below).
        if entry.maptype == .vpagetable, prot.contains(.write) { faultType.insert(.write) }
        if entry.maptype == .uksmap {
            let pindex = offToIdx(vaddr - entry.start + entry.offset)
            return (.success, LookupResult(entry: entry, object: nil, pindex: pindex, prot: prot))
        }
        if entry.eflags.contains(.needsCopy) {
            if faultType.contains(.write) {
                // vm_map_entry_shadow(entry, 0) under an upgraded lock.
                map.timestamp &+= 1
                vmMapEntryShadow(entry, addref: false)
                wflags.insert(.didCOW)
            } else {
                // Read the shared object read-only; NEEDS_COPY stays, a later write faults again.
                prot.remove(.write)
            }
        }
        if entry.object == nil {
            map.timestamp &+= 1
            if vaddr < vmMaxUserAddress, entry.maptype == .normal, !entry.withinPartition,
               tunables.mapPartitionEnable != 0
            {
                index = vmMapEntryPartition(map, index, vaddr)
                entry = map.entries[index]
            }
            entry.object = vmObjectAllocate(.default, size: entry.objectPageCount)
            entry.offset = 0
        }
        let pindex = offToIdx(vaddr - entry.start + entry.offset)
        return (.success, LookupResult(entry: entry, object: entry.object, pindex: pindex, prot: prot))
    }

    /// vm_map_entry_shadow
    func vmMapEntryShadow(_ entry: VMMapEntry, addref: Bool) {
        let (object, offset) = vmObjectShadow(entry.object, offset: entry.offset,
                                              length: entry.objectPageCount, addref: addref)
        entry.object = object
        entry.offset = offset
        entry.eflags.remove(.needsCopy)
    }

    /// vm_map_entry_partition: clip the entry to the 32 MB block around `vaddr`.
    func vmMapEntryPartition(_ map: VMMap, _ index: Int, _ vaddr: UInt64) -> Int {
        let blockStart = vaddr & ~(mapEntryPartitionSize - 1)
        var i = index
        if map.entries[i].start < blockStart {
            i = vmMapClipStart(map, i, blockStart)
        }
        if map.entries[i].end > blockStart + mapEntryPartitionSize {
            vmMapClipEnd(map, i, blockStart + mapEntryPartitionSize)
        }
        return i
    }
}

/// madvise(2) advice as the kernel sees it.
public enum MadviseAdvice: Sendable { case normal, random, sequential, willneed, dontneed, free, inval }
