// Processes and their address spaces (struct proc, struct lwp, struct vmspace): creation,
// fork (vmspace_fork), exec (vmspace_exec) and exit (research §3.1-3.2).

public final class Proc {
    public let pid: UInt32
    /// p_nthreads: matters for the shared-lock decision at seed:589.
    @exclusivity(unchecked) public internal(set) var threads: UInt32
    @exclusivity(unchecked) public internal(set) var map: VMMap
    /// The lwp's rusage (the simulation keeps one lwp's worth per process).
    @exclusivity(unchecked) public internal(set) var rusage = RUsage()
    /// vm_ssize: pages of the process stack (for RLIMIT_STACK in vm_map_growstack).
    @exclusivity(unchecked) var stackPages: Int64 = 0
    /// map->pgout_offset: where RLIMIT_RSS enforcement resumes its scan.
    @exclusivity(unchecked) var rssCursor: UInt64 = 0
    /// vm_maxsaddr: the lowest address the process stack may reach.
    @exclusivity(unchecked) var maxStackAddress: UInt64
    /// Set by exit (an OOM kill included): the process is no longer in the process table.
    @exclusivity(unchecked) var hasExited = false

    init(pid: UInt32, threads: UInt32, map: VMMap, maxStackAddress: UInt64) {
        self.pid = pid
        self.threads = threads
        self.map = map
        self.maxStackAddress = maxStackAddress
    }
}

public enum KernelError: Error, Equatable, CustomStringConvertible {
    case unknownProcess(UInt32)
    /// The process was killed for lack of memory; the trace's later events for it are moot.
    case killed(UInt32)
    case duplicateProcess(UInt32)
    case unknownFile(UInt32)
    case duplicateFile(UInt32)
    case badRange(String)
    case outOfMemory(String)
    case limit(String)

    public var description: String {
        switch self {
        case .unknownProcess(let p): return "no process \(p)"
        case .killed(let p): return "process \(p) was killed (out of memory)"
        case .duplicateProcess(let p): return "process \(p) already exists"
        case .unknownFile(let f): return "no file \(f)"
        case .duplicateFile(let f): return "file \(f) already declared"
        case .badRange(let s): return s
        case .outOfMemory(let s): return "out of simulated memory: \(s)"
        case .limit(let s): return s
        }
    }
}

extension Kernel {
    /// The live process `pid`; every system-call-like event starts here, so it is also the
    /// pagedaemon's safe point.
    func process(_ pid: UInt32) throws(KernelError) -> Proc {
        pageoutSafePoint()
        guard let p = procs[pid] else {
            throw killedPids.contains(pid) ? .killed(pid) : .unknownProcess(pid)
        }
        return p
    }

    /// vmspace_alloc: an empty map with a fresh pmap.
    func vmspaceAlloc() -> VMMap {
        VMMap(pmap: pmapCreate())
    }

    /// A new process with an empty address space (`proc PID [threads=N]`).
    public func createProcess(pid: UInt32, threads: UInt32 = 1) throws(KernelError) {
        guard procs[pid] == nil else { throw .duplicateProcess(pid) }
        // A pid the OOM killer ended is free again (pid reuse): the new process is not killed.
        killedPids.remove(pid)
        procs[pid] = Proc(pid: pid, threads: max(threads, 1), map: vmspaceAlloc(),
                          maxStackAddress: userStackTop - UInt64(tunables.maxssiz))
    }

    /// `threads PID N`
    public func setThreads(pid: UInt32, count: UInt32) throws(KernelError) {
        try process(pid).threads = max(count, 1)
    }

    /// fork(2): vm_fork → vmspace_fork. The child gets a copy-on-write copy of the parent's map.
    public func fork(parent: UInt32, child: UInt32) throws(KernelError) {
        if killedPids.contains(parent) {
            // The parent died of OOM before it could fork: so does the child, in effect.
            if procs[child] == nil { killedPids.insert(child) }
            throw .killed(parent)
        }
        let p1 = try process(parent)
        guard procs[child] == nil else { throw .duplicateProcess(child) }
        killedPids.remove(child) // pid reuse, as in createProcess
        switchTo(p1)
        meter.v_forks += 1
        let newMap = vmspaceFork(p1.map)
        let p2 = Proc(pid: child, threads: 1, map: newMap, maxStackAddress: p1.maxStackAddress)
        p2.stackPages = p1.stackPages
        procs[child] = p2
    }

    /// vmspace_fork: copy the map entry by entry according to inheritance (research §3.2).
    func vmspaceFork(_ old: VMMap) -> VMMap {
        let new = vmspaceAlloc()
        old.timestamp &+= 1
        for oldEntry in old.entries {
            switch oldEntry.inheritance {
            case .none:
                continue
            case .share:
                if oldEntry.object == nil, oldEntry.maptype == .normal || oldEntry.maptype == .vpagetable {
                    oldEntry.object = vmObjectAllocate(.default, size: oldEntry.objectPageCount)
                    oldEntry.offset = 0
                }
                if oldEntry.eflags.contains(.needsCopy) {
                    // Parent and child share the new shadow (ref 2).
                    vmMapEntryShadow(oldEntry, addref: true)
                } else if let o = oldEntry.object {
                    vmObjectReference(o)
                    o.flags.remove(.oneMapping)
                }
                let e = oldEntry.clone()
                e.eflags.remove(.userWired)
                new.entries.append(e)
                new.size += e.end - e.start
            case .copy:
                let e = oldEntry.clone()
                e.eflags.remove(.userWired)
                e.object = nil
                new.entries.append(e)
                new.size += e.end - e.start
                vmMapCopyEntry(old, new, oldEntry, e)
            }
        }
        new.timestamp = 1
        return new
    }

    /// vm_map_copy_entry: make the child's entry a copy-on-write copy of the parent's.
    func vmMapCopyEntry(_ srcMap: VMMap, _ dstMap: VMMap, _ src: VMMapEntry, _ dst: VMMapEntry) {
        if dst.maptype == .uksmap || dst.maptype == .submap {
            dst.object = src.object
            return
        }
        if src.wiredCount != 0 {
            // Wired pages cannot be COW: copy them into the child now.
            vmFaultCopyEntry(dstMap, srcMap, dst, src)
            return
        }
        if !src.eflags.contains(.needsCopy) {
            // Write-protect the parent's existing PTEs (A and M move into the pages).
            pmapProtect(srcMap.pmap, src.start, src.end, src.protection.subtracting(.write))
        }
        if let srcObject = src.object {
            vmMapSplit(src, srcObject)
            dst.object = src.object
            src.eflags.formUnion([.cow, .needsCopy])
            dst.eflags.formUnion([.cow, .needsCopy])
            dst.offset = src.offset
        } else {
            dst.object = nil
            dst.offset = 0
        }
        // pmap_copy is empty on pc64: the child's pmap starts empty.
    }

    /// vm_map_split (research §3.2): usually just another reference; an anonymous object mapped
    /// by several non-overlapping entries is split so this entry gets its own.
    func vmMapSplit(_ entry: VMMapEntry, _ oobject: VMObject) {
        guard oobject.type.isAnonymous else {
            vmObjectReference(oobject)
            oobject.flags.remove(.oneMapping)
            return
        }
        vmObjectCollapse(oobject)
        if oobject.refCount <= 1 || !oobject.type.isAnonymous
            || oobject.flags.intersection([.noSplit, .oneMapping]) != .oneMapping
        {
            vmObjectReference(oobject)
            oobject.flags.remove(.oneMapping)
            return
        }
        let offsetIndex = offToIdx(entry.offset)
        let size = entry.pageCount
        let nobject = vmObjectAllocate(oobject.type, size: size)
        nobject.flags.remove(.oneMapping)
        if let bobject = oobject.backingObject {
            nobject.backingObject = bobject
            nobject.backingObjectOffset = oobject.backingObjectOffset + entry.offset
            vmObjectReference(bobject)
            if bobject.type.isAnonymous {
                bobject.shadows.append(nobject)
                nobject.flags.insert(.onShadow)
            }
        }
        for m in oobject.memq.pages(from: offsetIndex, to: offsetIndex + size) {
            if m.queue == .cache { physmem.deactivate(m, meter: &meter) }
            vmPageRename(m, nobject, m.pindex - offsetIndex)
        }
        for (pindex, block) in oobject.swapBlocks where pindex >= offsetIndex && pindex < offsetIndex + size {
            oobject.swapBlocks[pindex] = nil
            nobject.swapBlocks[pindex - offsetIndex] = block
        }
        entry.object = nobject
        entry.offset = 0
        nobject.refCount = 2 // this entry and the child's
        vmObjectDeallocate(oobject)
    }

    /// exec: the address space is replaced by an empty one (vmspace_exec).
    public func exec(pid: UInt32) throws(KernelError) {
        let p = try process(pid)
        switchTo(p)
        let old = p.map
        p.map = vmspaceAlloc()
        p.stackPages = 0
        vmspaceTerminate(old)
        switchTo(p)
    }

    /// exit: the map is destroyed (vmspace_terminate); objects lose their references.
    public func exit(pid: UInt32) throws(KernelError) {
        let p = try process(pid)
        vmspaceTerminate(p.map)
        procs[pid] = nil
        p.hasExited = true
        exitedRusage.ru_minflt += p.rusage.ru_minflt
        exitedRusage.ru_majflt += p.rusage.ru_majflt
        exitedProcs[pid, default: RUsage()].ru_minflt += p.rusage.ru_minflt
        exitedProcs[pid, default: RUsage()].ru_majflt += p.rusage.ru_majflt
        if current === p { current = nil }
    }

    /// vmspace_terminate: pmap_remove_pages, then vm_map_remove of the whole user range.
    func vmspaceTerminate(_ map: VMMap) {
        pmapRemove(map.pmap, 0, vmMaxUserAddress)
        vmMapDelete(map, 0, vmMaxUserAddress)
        pmapDestroy(map.pmap)
    }
}
