// Consistency checks over the whole simulated machine: what must hold between the page tables,
// the pv lists, the map entries, the objects and their shadow chains, the page queues and swap
// after any event. A violation is an engine bug; `vmreplay replay --check-invariants` and the
// fuzz targets (docs/fuzzing.md) run these checks, InvariantTests run them over every sample.
//
// The checker only reads. It walks, in this order:
//   1. processes and maps: entries sorted, non-overlapping, page aligned, map.size adds up,
//      each live process owns exactly one registered pmap and every pmap has an owner;
//   2. objects reachable from map entries, backing chains and declared files: ref_count equals
//      the map entries plus the shadows that refer to the object (vnode objects included);
//      shadow lists equal the set of objects backed by it; no reachable object is dead;
//      every resident page knows its (object, pindex); swap blocks are unique and add up;
//   3. physical memory: the queues hold exactly the pages whose `queue` says so, the counts
//      match, free + untouched + in use = total; a free page has no identity, mapping or
//      wiring; a page-table frame is wired and owns nothing; every other frame is owned by a
//      reachable object; wired pages are off the paging queues; cached pages are clean and
//      unmapped; the wired-page count adds up;
//   4. page tables: every present PTE lies in a map entry and maps, at the entry's pindex, a
//      page of the entry's object or of an object below it in the backing chain (a device or
//      uksmap PTE: the fictitious page of its device object or of the uksmap holder); a
//      writable PTE maps a page of the entry's own object, which no other mapping shares while
//      the entry still needs a copy; pmap resident and wired counts match the PTEs;
//   5. pv lists: each page's pv entries are exactly the PTEs that point at it.
import X86MMU

/// A broken invariant: which one, and the objects, pages and addresses involved.
public struct InvariantViolation: Error, Equatable, Sendable, CustomStringConvertible {
    public enum Invariant: String, Sendable, CaseIterable {
        case processes = "processes"
        case mapEntries = "map-entries"
        case objectReferences = "object-references"
        case shadowLists = "shadow-lists"
        case objectPages = "object-pages"
        case swapBlocks = "swap-blocks"
        case pageQueues = "page-queues"
        case pageOwnership = "page-ownership"
        case pteMappings = "pte-mappings"
        case pmapCounts = "pmap-counts"
        case pvLists = "pv-lists"
        /// An access completed that the page table or the entry's protection forbids
        /// (the access audit, AccessAudit.swift).
        case accessRights = "access-rights"
    }

    public var invariant: Invariant
    public var detail: String

    public init(_ invariant: Invariant, _ detail: String) {
        self.invariant = invariant
        self.detail = detail
    }

    public var description: String { "invariant \(invariant.rawValue) violated: \(detail)" }

    /// The one violation the engine commits on purpose, following the seed: a wired entry copied
    /// at fork gets PTEs with max_protection (vm_fault_copy_entry, seed:2445) while keeping
    /// MAP_ENTRY_NEEDS_COPY, and a later fork of that process skips pmap_protect for a
    /// NEEDS_COPY entry (vm_map_copy_entry), so a writable PTE onto a shared object survives:
    /// the process's writes reach its child. docs/fuzzing.md has the four-event trace.
    public var isKnownSeedQuirk: Bool {
        invariant == .pteMappings && detail.hasSuffix("shared, in an entry that still needs a copy")
    }
}

extension Kernel {
    /// Throws the first violated invariant (see the top of Invariants.swift for the list).
    public func checkInvariants() throws(InvariantViolation) {
        if let first = invariantViolations(limit: 1).first { throw first }
    }

    /// Up to `limit` violated invariants, in the checker's walk order (empty when all hold).
    public func invariantViolations(limit: Int = 20) -> [InvariantViolation] {
        let checker = InvariantChecker(self, limit: max(limit, 1))
        checker.run()
        return checker.violations
    }
}

private func hex(_ v: UInt64) -> String { "0x" + String(v, radix: 16) }

private extension VMObject {
    var label: String { "object #\(id) (\(type), ref_count \(refCount))" }
}

/// One run of the checks. A class so the page-table walk's closure can record failures.
private final class InvariantChecker {
    let k: Kernel
    let limit: Int
    @exclusivity(unchecked) var violations: [InvariantViolation] = []
    var full: Bool { violations.count >= limit }

    /// Pmap id → its process.
    @exclusivity(unchecked) var owners: [UInt32: Proc] = [:]
    /// Every object reachable from the maps, backing chains and files.
    @exclusivity(unchecked) var objects: [ObjectIdentifier: VMObject] = [:]
    /// Map entries referring to each object (uksmap entries hold no reference).
    @exclusivity(unchecked) var entryRefs: [ObjectIdentifier: Int] = [:]
    /// Objects whose backing object each object is.
    @exclusivity(unchecked) var backedBy: [ObjectIdentifier: [VMObject]] = [:]
    /// Frames of page-table pages.
    @exclusivity(unchecked) var tableFrames: Set<UInt64> = []
    /// PTEs found per RAM frame, to compare with the pv lists.
    @exclusivity(unchecked) var ptesPerFrame: [UInt64: Int] = [:]

    init(_ kernel: Kernel, limit: Int) {
        k = kernel
        self.limit = limit
    }

    func fail(_ invariant: InvariantViolation.Invariant, _ detail: @autoclosure () -> String) {
        guard !full else { return }
        violations.append(InvariantViolation(invariant, detail()))
    }

    func run() {
        checkProcesses()
        if !full { collectObjects() }
        if !full { checkObjects() }
        if !full { checkPhysicalMemory() }
        if !full { checkPageTables() }
        if !full { checkPVLists() }
    }

    // MARK: 1. processes and maps

    func checkProcesses() {
        for pid in k.procs.keys.sorted() {
            guard let p = k.procs[pid] else { continue }
            if p.pid != pid { fail(.processes, "process table slot \(pid) holds pid \(p.pid)") }
            if k.killedPids.contains(pid) { fail(.processes, "pid \(pid) is live but was killed by the OOM killer") }
            let pmap = p.map.pmap
            if k.pmaps[pmap.id] !== pmap {
                fail(.processes, "pid \(pid): its pmap \(pmap.id) is not registered (destroyed?)")
            }
            if let other = owners[pmap.id] {
                fail(.processes, "pmap \(pmap.id) belongs to pids \(other.pid) and \(pid)")
            }
            owners[pmap.id] = p
            for frame in pmap.tableFrames.map(\.frame) { tableFrames.insert(frame) }
            checkMap(p)
        }
        for id in k.pmaps.keys.sorted() where owners[id] == nil {
            fail(.processes, "pmap \(id) belongs to no live process (leaked page tables)")
        }
        if let cur = k.current, k.procs[cur.pid] !== cur {
            fail(.processes, "curproc is pid \(cur.pid), which is no longer live")
        }
    }

    func checkMap(_ p: Proc) {
        let map = p.map
        var size: UInt64 = 0
        var previous: VMMapEntry?
        for e in map.entries {
            let range = "pid \(p.pid): entry [\(hex(e.start)), \(hex(e.end)))"
            if e.start >= e.end { fail(.mapEntries, "\(range) is empty or inverted") }
            if e.start & pageMask != 0 || e.end & pageMask != 0 { fail(.mapEntries, "\(range) is not page aligned") }
            if e.end > vmMaxUserAddress { fail(.mapEntries, "\(range) extends past the user address space") }
            if let prev = previous, prev.end > e.start {
                fail(.mapEntries, "\(range) overlaps or precedes [\(hex(prev.start)), \(hex(prev.end)))")
            }
            if e.eflags.contains(.needsCopy) && !e.eflags.contains(.cow) {
                fail(.mapEntries, "\(range) needs a copy but is not copy-on-write")
            }
            if e.wiredCount < 0 || (e.eflags.contains(.userWired) && e.wiredCount == 0) {
                fail(.mapEntries, "\(range) wired_count \(e.wiredCount) with eflags 0x\(String(e.eflags.rawValue, radix: 16))")
            }
            if e.maptype == .uksmap, e.object != nil {
                fail(.mapEntries, "\(range) is a uksmap entry with an object")
            }
            if let o = e.object, e.maptype != .uksmap {
                entryRefs[ObjectIdentifier(o), default: 0] += 1
                objects[ObjectIdentifier(o)] = o
            }
            size &+= e.end &- e.start
            previous = e
        }
        if size != map.size {
            fail(.mapEntries, "pid \(p.pid): map size \(map.size) but its entries cover \(size) bytes")
        }
    }

    // MARK: 2. objects

    func collectObjects() {
        for id in k.files.keys.sorted() {
            guard let v = k.files[id] else { continue }
            objects[ObjectIdentifier(v.object)] = v.object
            if v.object.vnode !== v { fail(.objectReferences, "file \(id): its \(v.object.label) names another vnode") }
        }
        // Close over backing pointers.
        var work = Array(objects.values)
        while let o = work.popLast() {
            guard let b = o.backingObject else { continue }
            backedBy[ObjectIdentifier(b), default: []].append(o)
            if objects[ObjectIdentifier(b)] == nil {
                objects[ObjectIdentifier(b)] = b
                work.append(b)
            }
        }
    }

    func checkObjects() {
        var swapSeen: Set<Int64> = []
        for o in objects.values.sorted(by: { $0.id < $1.id }) {
            guard !full else { return }
            let oid = ObjectIdentifier(o)
            if o.flags.contains(.dead) || o.type == .dead {
                fail(.objectReferences, "\(o.label) is dead but still referenced")
                continue
            }
            // ref_count: one per map entry, one per object backed by it (vnode objects too:
            // entries mapping the file plus shadows backing onto it).
            let entries = entryRefs[oid] ?? 0
            let shadowsBacking = backedBy[oid] ?? []
            if Int(o.refCount) != entries + shadowsBacking.count {
                fail(.objectReferences, "\(o.label): \(entries) map entries and \(shadowsBacking.count) shadow objects refer to it")
            }
            // shadow_head: exactly the objects backed by this one, for anonymous objects only.
            if o.type.isAnonymous {
                let listed = Set(o.shadows.map(ObjectIdentifier.init))
                if listed.count != o.shadows.count {
                    fail(.shadowLists, "\(o.label) lists a shadow twice: \(o.shadows.map(\.id))")
                }
                let actual = Set(shadowsBacking.map(ObjectIdentifier.init))
                if listed != actual {
                    fail(.shadowLists, "\(o.label): shadow list \(o.shadows.map(\.id).sorted()) but objects \(shadowsBacking.map(\.id).sorted()) are backed by it")
                }
            } else if !o.shadows.isEmpty {
                fail(.shadowLists, "\(o.label) is not anonymous but has shadows \(o.shadows.map(\.id))")
            }
            let onList = o.backingObject?.type.isAnonymous == true
            if o.flags.contains(.onShadow) != onList {
                fail(.shadowLists, "\(o.label): OBJ_ONSHADOW is \(o.flags.contains(.onShadow)) but its backing object is \(o.backingObject?.label ?? "none")")
            }
            // Resident pages.
            let resident = o.memq.allPages
            if resident.count != o.residentPageCount {
                fail(.objectPages, "\(o.label) counts \(o.residentPageCount) resident pages but its tree holds \(resident.count)")
            }
            for m in resident {
                let pindex = m.pindex
                if m.object !== o || o.lookup(pindex) != m {
                    fail(.objectPages, "\(o.label) holds at pindex \(pindex) a page that says it is at object #\(m.object?.id ?? -1) pindex \(m.pindex)")
                    continue
                }
                if m.flags.contains(.fictitious) {
                    if o.type != .device && o.type != .mgtdevice {
                        fail(.objectPages, "\(o.label) holds a fictitious page at pindex \(pindex)")
                    }
                    continue
                }
                if m.frame >= UInt64(k.physmem.frameCount) || k.physmem.page(frame: m.frame) != m {
                    fail(.objectPages, "\(o.label) holds at pindex \(pindex) a page that is not frame \(m.frame) of physical memory")
                } else if m.queue == .free {
                    fail(.objectPages, "\(o.label) holds at pindex \(pindex) frame \(m.frame), which is on the free queue")
                }
            }
            // Swap metadata.
            if !o.swapBlocks.isEmpty && o.type != .swap {
                fail(.swapBlocks, "\(o.label) has \(o.swapBlocks.count) swap blocks but is not a SWAP object")
            }
            for (pindex, block) in o.swapBlocks {
                if block < 0 || block >= k.swapSpace.totalBlocks {
                    fail(.swapBlocks, "\(o.label) pindex \(pindex): swap block \(block) outside swap (\(k.swapSpace.totalBlocks) blocks)")
                }
                if !swapSeen.insert(block).inserted {
                    fail(.swapBlocks, "swap block \(block) is used twice (again by \(o.label) pindex \(pindex))")
                }
            }
        }
        if !full, Int64(swapSeen.count) != k.swapSpace.usedBlocks {
            fail(.swapBlocks, "\(k.swapSpace.usedBlocks) swap blocks in use but reachable objects hold \(swapSeen.count)")
        }
        if !full, objects.count > k.liveObjects {
            fail(.objectReferences, "\(objects.count) objects are reachable but only \(k.liveObjects) are live")
        }
    }

    // MARK: 3. physical memory

    func checkPhysicalMemory() {
        let pm = k.physmem
        let pages = pm.allFrames
        var seen: Set<UInt64> = []
        var walked: [PageQueue: Int] = [:]
        for q in [PageQueue.free, .inactive, .active, .cache, .hold] {
            pm.forEach(in: q) { m in
                walked[q, default: 0] += 1
                if m.queue != q { fail(.pageQueues, "frame \(m.frame) is on the \(q) queue but says \(m.queue)") }
                if !seen.insert(m.frame).inserted { fail(.pageQueues, "frame \(m.frame) appears twice on the queues") }
            }
        }
        for (q, count) in [(PageQueue.inactive, pm.inactiveCount), (.active, pm.activeCount), (.cache, pm.cacheCount)]
        where walked[q, default: 0] != count {
            fail(.pageQueues, "the \(q) queue holds \(walked[q, default: 0]) pages but counts \(count)")
        }
        let freeListed = walked[.free, default: 0]
        let untouched = pm.freeCount - freeListed
        if untouched < 0 || pages.count + untouched != pm.pageCount {
            fail(.pageQueues, "\(pages.count) frames used so far + \(untouched) never used != \(pm.pageCount) pages of RAM (free count \(pm.freeCount), \(freeListed) on the free queue)")
        }
        if pm.inUse + pm.freeCount != pm.pageCount {
            fail(.pageQueues, "in use \(pm.inUse) + free \(pm.freeCount) != total \(pm.pageCount)")
        }
        var wired = 0
        for (i, m) in pages.enumerated() {
            guard !full else { return }
            if m.frame != UInt64(i) { fail(.pageOwnership, "frame slot \(i) holds frame \(m.frame)") }
            if m.wireCount > 0 { wired += 1 }
            if m.queue == .free {
                if m.object != nil || m.mappingCount != 0 || m.wireCount != 0 || m.valid {
                    fail(.pageOwnership, "free frame \(i) still has object #\(m.object?.id ?? -1), \(m.mappingCount) mappings, wire_count \(m.wireCount), valid \(m.valid)")
                }
                if tableFrames.contains(m.frame) { fail(.pageOwnership, "free frame \(i) is a live page-table page") }
                continue
            }
            if tableFrames.contains(m.frame) {
                if m.object != nil || m.wireCount == 0 || m.mappingCount != 0 || m.queue != .none {
                    fail(.pageOwnership, "page-table frame \(i): object #\(m.object?.id ?? -1), wire_count \(m.wireCount), \(m.mappingCount) mappings, queue \(m.queue)")
                }
                continue
            }
            guard let o = m.object else {
                fail(.pageOwnership, "frame \(i) is neither free, a page table, nor owned by an object (leaked; queue \(m.queue))")
                continue
            }
            if o.lookup(m.pindex) != m {
                fail(.pageOwnership, "frame \(i) says it is \(o.label) pindex \(m.pindex), which holds another page")
            } else if objects[ObjectIdentifier(o)] == nil {
                fail(.pageOwnership, "frame \(i) belongs to \(o.label) pindex \(m.pindex), which no map entry, backing chain or file reaches (leaked object)")
            }
            if m.wireCount > 0 && m.queue != .none {
                fail(.pageQueues, "frame \(i) (\(o.label) pindex \(m.pindex)) is wired but on the \(m.queue) queue")
            }
            if m.wireCount == 0 && m.queue == .none {
                fail(.pageQueues, "frame \(i) (\(o.label) pindex \(m.pindex)) is neither wired nor on any queue (the pagedaemon cannot see it)")
            }
            if m.queue == .cache && (m.mappingCount != 0 || m.dirty || !m.valid) {
                fail(.pageQueues, "cached frame \(i) (\(o.label) pindex \(m.pindex)) has \(m.mappingCount) mappings, dirty \(m.dirty), valid \(m.valid)")
            }
        }
        if !full, wired != pm.wiredCount {
            fail(.pageQueues, "\(wired) frames are wired but the wired count is \(pm.wiredCount)")
        }
    }

    // MARK: 4. page tables

    func checkPageTables() {
        let pageCount = UInt64(k.physmem.frameCount)
        for id in k.pmaps.keys.sorted() {
            guard !full, let pmap = k.pmaps[id], let p = owners[id] else { continue }
            var ptes: [(UInt64, PTE)] = []
            pmap.table.forEachPresent(from: 0, to: vmMaxUserAddress) { va, pte in ptes.append((va, pte)) }
            var wired = 0
            for (va, pte) in ptes {
                guard !full else { return }
                if pte.isWired { wired += 1 }
                let at = "pid \(p.pid) va \(hex(va))"
                guard let e = p.map.entry(containing: va) else {
                    fail(.pteMappings, "\(at): a present PTE (frame \(pte.frame)) but no map entry covers the address")
                    continue
                }
                // A VPAGETABLE entry maps whichever page its virtual page table named (maybe a
                // stale one until MADV_INVAL): any page of its chain will do.
                let pindex = (e.maptype == .vpagetable ? k.vpagetableChainIndex(e, pte.frame) : nil)
                    ?? offToIdx(va &- e.start &+ e.offset)
                // No check that a PTE's rights stay within the entry's protection: the seed
                // enters max_protection in vm_fault_copy_entry (seed:2445, a wired entry copied
                // at fork) and when user-wiring an unreadable COW segment (seed:462).
                if pte.isDevice {
                    checkDevicePTE(at, pte, e, pindex)
                    continue
                }
                guard pte.frame < pageCount else {
                    fail(.pteMappings, "\(at): PTE frame \(pte.frame) is not a RAM frame in use")
                    continue
                }
                ptesPerFrame[pte.frame, default: 0] += 1
                let m = k.physmem.page(frame: pte.frame)
                if m.queue == .free || tableFrames.contains(pte.frame) {
                    fail(.pteMappings, "\(at): PTE maps frame \(pte.frame), which is \(m.queue == .free ? "free" : "a page-table page")")
                    continue
                }
                if !m.mappings.contains(PVEntry(pmapID: pmap.id, va: va)) {
                    fail(.pvLists, "\(at): PTE maps frame \(pte.frame) but the page has no pv entry for it")
                }
                if !m.valid { fail(.pteMappings, "\(at): PTE maps frame \(pte.frame), which is not valid") }
                // Find the page in the entry's backing chain at the entry's pindex.
                var depth = 0
                var object = e.object
                var index = pindex
                var found = false
                while let o = object {
                    if o.lookup(index) == m {
                        found = true
                        break
                    }
                    index &+= offToIdx(o.backingObjectOffset)
                    object = o.backingObject
                    depth += 1
                }
                guard found else {
                    let owner = m.object.map { "\($0.label) pindex \(m.pindex)" } ?? "no object"
                    fail(.pteMappings, "\(at): PTE maps frame \(pte.frame) (\(owner)), which is not in the backing chain of the entry's \(e.object?.label ?? "missing object") at pindex \(pindex)")
                    continue
                }
                if pte.isWritable && depth > 0 {
                    fail(.pteMappings, "\(at): writable PTE maps frame \(pte.frame) of \(m.object?.label ?? "?"), \(depth) level(s) below the entry's \(e.object?.label ?? "?") (a write would bypass copy-on-write)")
                }
                if pte.isWritable && e.eflags.contains(.needsCopy), let o = e.object, o.refCount > 1 {
                    // (A fork-time copy of a wired entry keeps NEEDS_COPY over a private object.)
                    fail(.pteMappings, "\(at): writable PTE onto \(o.label), shared, in an entry that still needs a copy")
                }
            }
            if pmap.table.presentCount != ptes.count {
                fail(.pmapCounts, "pid \(p.pid): page table counts \(pmap.table.presentCount) present PTEs, the walk found \(ptes.count)")
            }
            if pmap.residentCount != ptes.count + pmap.table.tablePages {
                fail(.pmapCounts, "pid \(p.pid): resident_count \(pmap.residentCount) != \(ptes.count) PTEs + \(pmap.table.tablePages) page-table pages")
            }
            if pmap.wiredCount != wired {
                fail(.pmapCounts, "pid \(p.pid): wired_count \(pmap.wiredCount) but \(wired) PTEs are wired")
            }
        }
    }

    func checkDevicePTE(_ at: String, _ pte: PTE, _ e: VMMapEntry, _ pindex: Int64) {
        if e.maptype == .uksmap {
            if k.uksmapObject.lookup(pindex)?.frame != pte.frame {
                fail(.pteMappings, "\(at): uksmap PTE frame \(pte.frame) is not the uksmap page of pindex \(pindex)")
            }
            return
        }
        var object = e.object
        var index = pindex
        while let o = object {
            if let m = o.lookup(index), m.frame == pte.frame, m.flags.contains(.fictitious) { return }
            index &+= offToIdx(o.backingObjectOffset)
            object = o.backingObject
        }
        fail(.pteMappings, "\(at): device PTE frame \(pte.frame) is not a fictitious page of the entry's \(e.object?.label ?? "missing object") chain at pindex \(pindex)")
    }

    // MARK: 5. pv lists

    func checkPVLists() {
        for m in k.physmem.allFrames where m.mappingCount > 0 || ptesPerFrame[m.frame] != nil {
            guard !full else { return }
            let pvs = m.mappings
            if Set(pvs.map { "\($0.pmapID):\($0.va)" }).count != pvs.count {
                fail(.pvLists, "frame \(m.frame) has a duplicate pv entry")
            }
            for pv in pvs {
                guard let pmap = k.pmaps[pv.pmapID] else {
                    fail(.pvLists, "frame \(m.frame) has a pv entry for pmap \(pv.pmapID), which no longer exists")
                    continue
                }
                guard let pte = pmap.table.pte(at: pv.va), pte.isPresent, !pte.isDevice, pte.frame == m.frame else {
                    fail(.pvLists, "frame \(m.frame) has a pv entry for pmap \(pv.pmapID) va \(hex(pv.va)), where no PTE maps it")
                    continue
                }
            }
            if pvs.count != ptesPerFrame[m.frame, default: 0] {
                fail(.pvLists, "frame \(m.frame) has \(pvs.count) pv entries but \(ptesPerFrame[m.frame, default: 0]) PTEs map it")
            }
            if pvs.count > 0 && !m.flags.contains(.mapped) {
                fail(.pvLists, "frame \(m.frame) is mapped but PG_MAPPED is clear")
            }
        }
    }
}
