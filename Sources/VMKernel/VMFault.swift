// vm_fault() and vm_fault_object(): the page-fault path of sys/vm/vm_fault.c at d709358f,
// followed line for line. Locks are not simulated, but every decision the kernel takes because
// of its lock modes is: fs.shared / fs.first_shared, the KERN_TRY_AGAIN retries they cause, the
// map unlock around pager I/O (fs.lookup_still_valid) and what those decide later (which
// prefault routine runs, whether a virtual copy is possible). Nothing is concurrent in a replay,
// so a page is never found busy, a chain lock never skips a collapse and the map timestamp
// never changes under a fault.

/// struct faultstate (seed:131)
struct FaultState {
    var m: VMPage?
    var object: VMObject
    var prot: VMProt = []
    var firstM: VMPage?
    var firstObject: VMObject
    var firstProt: VMProt
    var map: VMMap?
    var entry: VMMapEntry
    var lookupStillValid = true
    var hardfault = 0
    var faultFlags: FaultFlags
    var mapGeneration: UInt32 = 0
    var shared: Bool
    var firstShared: Bool
    var wflags: WireFlags
    /// Set where vm_fault_object gives up only to take an object lock exclusively
    /// (seed:1704-1726, seed:1813-1841): the retry's vm_map_lookup would find the same answer.
    var relockRetry = false

    /// The state seed:493-497 builds from a vm_map_lookup answer, rebuilt in place from the
    /// same answer (entry, first_object, first_prot and wflags are kept) for a lock-upgrade retry.
    mutating func restartAfterRelock(mapGeneration: UInt32) {
        m = nil
        firstM = nil
        object = firstObject
        prot = firstProt
        hardfault = 0
        lookupStillValid = true
        self.mapGeneration = mapGeneration
        relockRetry = false
    }
}

extension Kernel {
    /// vm_fault(map, vaddr, fault_type, fault_flags) for process `p` (curthread's process).
    func vmFault(_ p: Proc, _ vaddr: UInt64, _ faultTypeIn: VMProt, _ faultFlags: FaultFlags) -> KernReturn {
        let map = p.map
        var faultType = faultTypeIn
        let sharedFault = tunables.sharedFault != 0
        // fs.shared and fs.first_shared are set before RetryFault: once cleared they stay cleared
        // for the retries (seed:390-391).
        var shared = sharedFault
        var firstShared = sharedFault
        var growstack = true
        var retries = 0
        var result: KernReturn

        retryFault: while true {
            // seed:418 vm_map_lookup
            var wflags: WireFlags = []
            let timestampBeforeLookup = map.timestamp
            var (rv, lookup) = vmMapLookup(map, vaddr, faultType, wflags: &wflags)
            // The lookup answered at once (no OVERRIDE_WRITE second lookup below).
            let lookupWasDirect = rv == .success
            if rv != .success {
                if rv == .failureNoFault {
                    result = .failure
                    break retryFault
                }
                if rv != .protectionFailure || faultFlags.intersection(.wireMask) != .userWire {
                    // seed:440 the stack may grow on the first attempt only.
                    if rv == .invalidAddress && growstack {
                        rv = vmMapGrowstack(p, vaddr)
                        if rv == .success {
                            growstack = false
                            counters.faultRetries += 1
                            continue retryFault
                        }
                        rv = .failure
                    }
                    result = rv
                    break retryFault
                }
                // seed:462 user-wiring a COW segment: redo the lookup with OVERRIDE_WRITE.
                (rv, lookup) = vmMapLookup(map, vaddr, [.read, .write, .overrideWrite], wflags: &wflags)
                guard rv == .success, let l = lookup else {
                    result = .failure
                    break retryFault
                }
                if !l.entry.protection.contains(.write) { l.entry.maxProtection.remove(.write) }
                // The page goes in with max_protection's rights (lookup's prot): a PROT_NONE or
                // read-only segment can become readable and executable once mlock'd. Only the
                // access audit reads this mark.
                l.entry.ptesAtMaxProtection = true
            }
            guard let l = lookup else {
                result = .failure
                break retryFault
            }

            // seed:493-497
            var fs = FaultState(m: nil, object: l.object ?? uksmapObject, firstM: nil,
                                firstObject: l.object ?? uksmapObject, firstProt: l.prot, map: map,
                                entry: l.entry, faultFlags: faultFlags, shared: shared,
                                firstShared: firstShared, wflags: wflags)
            fs.mapGeneration = map.timestamp
            fs.lookupStillValid = true
            fs.prot = fs.firstProt
            var firstPindex = l.pindex

            // seed:518 a user-kernel shared map bypasses everything: a fictitious page, an
            // unmanaged mapping, no prefault, but still done_success.
            if l.entry.maptype == .uksmap {
                let fake = uksmapPage(l.entry, firstPindex)
                pmapEnter(map.pmap, vaddr, fake, fs.prot, wired: wflags.contains(.wired))
                finishSuccessfulFault(p, &fs)
                result = .success
                break retryFault
            }
            guard l.object != nil else {
                // seed:541 panics for system maps; user entries always have an object here.
                result = .failure
                break retryFault
            }

            // A retry that only upgrades a lock goes round this inner loop (see below).
            relock: while true {
                // seed:571 a wired entry cannot change the page protection.
                if fs.wflags.contains(.wired) { faultType = fs.firstProt }

                // seed:589 a backing object nobody shadows and a single thread: take the exclusive
                // lock right away instead of paying a retry.
                if fs.firstShared, fs.firstObject.backingObject != nil, fs.firstObject.shadows.isEmpty,
                   p.threads == 1
                {
                    fs.firstShared = false
                }
                // seed:600
                if faultFlags.contains(.unswap) { fs.firstShared = false }

                // seed:627 a VPAGETABLE entry: the virtual page table names the page. Its
                // KERN_TRY_AGAIN and failures are handled as vm_fault_object's below, but without
                // the debug line, which only vm_fault_object's result gets (seed:663).
                var walked = KernReturn.success
                if l.entry.maptype == .vpagetable {
                    walked = vmFaultVPageTable(&fs, &firstPindex, l.entry.masterPDE, faultType, allowNofault: true)
                }
                if walked != .success {
                    result = walked
                } else {
                    // seed:661
                    result = vmFaultObject(&fs, firstPindex, faultType, allowNofault: true)
                    // seed:663 vm.debug_fault
                    if debugFaultRemaining > 0 {
                        debugFaultRemaining -= 1
                        debugLog(debugFaultLine(result, vaddr, faultType, faultFlags, fs))
                    }
                }
                shared = fs.shared
                firstShared = fs.firstShared

                if result == .tryAgain {
                    counters.faultRetries += 1
                    retries += 1
                    // A fault that can never make progress (memory that cannot be reclaimed) gives up
                    // instead of spinning; the kernel would sleep here.
                    if retries > 64 {
                        result = .failure
                        break retryFault
                    }
                    // The round gave up only to take a lock exclusively, and the map's timestamp
                    // has not moved since before the lookup (which so made no shadow, object or
                    // partition, and nothing changed the map after it): RetryFault's
                    // vm_map_lookup (seed:418) would return the same entry, object, pindex,
                    // protection and wflags, so the state is reset as seed:493-497 would set it
                    // from that answer, without looking again. Wired faults (their fault type
                    // changed above) and virtual page tables (the walk changes first_prot and
                    // the pindex) look again.
                    if fs.relockRetry, lookupWasDirect, map.timestamp == timestampBeforeLookup,
                       !fs.wflags.contains(.wired), fs.entry.maptype != .vpagetable
                    {
                        fs.restartAfterRelock(mapGeneration: map.timestamp)
                        firstPindex = l.pindex
                        if auditAccesses { auditRelockedLookup(map, vaddr, faultType, fs, firstPindex) }
                        continue relock
                    }
                    continue retryFault
                }
                if result != .success { break retryFault }

                // seed:690-713 enter the page, then queue it (or wire it).
                guard let m = fs.m else {
                    result = .failure
                    break retryFault
                }
                m.setFlag(.referenced)
                pmapEnter(map.pmap, vaddr, m, fs.prot, wired: fs.wflags.contains(.wired))
                if !fs.faultFlags.intersection(.wireMask).isEmpty {
                    if fs.wflags.contains(.wired) {
                        physmem.wire(m)
                    } else {
                        physmem.unwire(m, activate: true, meter: &meter)
                    }
                } else {
                    physmem.activate(m, meter: &meter)
                }

                // seed:728 burst: the full vm_prefault only when both locks ended up exclusive,
                // vm_prefault_quick whenever a shared lock was kept (seed:731, SPEC §4).
                if faultFlags.contains(.burst), fs.faultFlags.intersection(.wireMask).isEmpty,
                   !fs.wflags.contains(.wired)
                {
                    if !fs.firstShared && !fs.shared {
                        vmPrefault(p, map.pmap, vaddr, fs.entry, fs.prot, faultFlags)
                    } else {
                        vmPrefaultQuick(p, map.pmap, vaddr, fs.entry, fs.prot, faultFlags)
                    }
                }
                finishSuccessfulFault(p, &fs)
                result = .success
                break retryFault
            }
        }
        // seed:770 the RLIMIT_RSS check runs after done:, whether the fault succeeded or not.
        if faultFlags.contains(.userMode) { rssLimitCheck(p) }
        return result
    }

    /// done_success (seed:740-756): v_vm_faults once, and ru_minflt once unconditionally and once
    /// more unless the fault was hard — a soft fault counts twice in ru_minflt (SPEC §4).
    private func finishSuccessfulFault(_ p: Proc, _ fs: inout FaultState) {
        meter.v_vm_faults += 1
        p.rusage.ru_minflt += 1
        unlockThings(&fs)
        if fs.hardfault != 0 {
            p.rusage.ru_majflt += 1
        } else {
            p.rusage.ru_minflt += 1
        }
    }

    /// _cleanup_successful_fault (seed:222): a junk first_m allocated for a COW that did not
    /// happen (the page was found deeper and mapped read-only) is freed.
    func cleanupSuccessfulFault(_ fs: inout FaultState) {
        // (Assigned only when it differs: storing the same reference costs a retain/release
        // pair on every fault.)
        if fs.object !== fs.firstObject {
            if let junk = fs.firstM { vmPageFree(junk) }
            fs.firstM = nil
            fs.object = fs.firstObject
        }
    }

    /// unlock_things / unlock_and_deallocate (seed:247)
    func unlockThings(_ fs: inout FaultState) {
        cleanupSuccessfulFault(&fs)
        fs.lookupStillValid = false
    }

    /// A fictitious page for a UKSMAP entry (seed:519-531).
    private func uksmapPage(_ entry: VMMapEntry, _ pindex: Int64) -> VMPage {
        let o = uksmapObject
        if let m = o.lookup(pindex) { return m }
        let m = devPagerGetFake()
        vmPageInsert(m, o, pindex)
        return m
    }

    // MARK: vm_fault_object

    /// vm_fault_object (seed:1543): resolve (first_object, first_pindex) through the shadow
    /// chain, doing the COW copy or virtual copy. On success fs.m is the page to map.
    func vmFaultObject(_ fs: inout FaultState, _ firstPindex: Int64, _ faultType: VMProt,
                       allowNofault: Bool) -> KernReturn
    {
        fs.prot = fs.firstProt
        fs.object = fs.firstObject
        var pindex = firstPindex

        pageSearch: while true {
            // seed:1600 a dead object ends the search.
            if fs.object.flags.contains(.dead) {
                unlockThings(&fs)
                return .protectionFailure
            }

            // seed:1623 look the page up (never busy: nothing runs concurrently).
            var needPager = false
            if let m = fs.object.lookup(pindex) {
                fs.m = m
                let queue = m.queue
                physmem.unqueue(m)
                // seed:1649 reactivating a cached page while memory is severely short: wait.
                if queue == .cache && physmem.countSevere() {
                    physmem.activate(m, meter: &meter)
                    fs.m = nil
                    unlockThings(&fs)
                    vmWaitPfault()
                    if lowMemoryKilled { return .protectionFailure }
                    return .tryAgain
                }
                // seed:1681-1692 an invalid page, or a read-ahead mark, goes to readrest.
                if !m.valid {
                    needPager = true
                } else if m.flags.contains(.ram) {
                    if tunables.debugCluster != 0 { debugLog("R") }
                    m.clearFlag(.ram)
                    needPager = true
                } else {
                    break pageSearch // PAGE HAS BEEN FOUND
                }
            } else {
                fs.m = nil
                // seed:1700 not resident: allocate if this is the top object or the pager
                // might have the page.
                if tryPager(fs) || fs.object === fs.firstObject {
                    // Allocating needs the exclusive lock on the object in question.
                    if fs.object === fs.firstObject && fs.firstShared {
                        fs.firstShared = false
                        unlockThings(&fs)
                        fs.relockRetry = true
                        return .tryAgain
                    }
                    if fs.object !== fs.firstObject && fs.shared {
                        fs.firstShared = false
                        fs.shared = false
                        unlockThings(&fs)
                        fs.relockRetry = true
                        return .tryAgain
                    }
                    // seed:1731 beyond the object: KERN_PROTECTION_FAILURE.
                    if pindex >= fs.object.size {
                        unlockThings(&fs)
                        return .protectionFailure
                    }
                    fs.m = nil
                    if !physmem.countSevere() { fs.m = vmPageAlloc(fs.object, pindex) }
                    if fs.m == nil {
                        unlockThings(&fs)
                        vmWaitPfault()
                        if lowMemoryKilled { return .protectionFailure }
                        return .tryAgain
                    }
                    needPager = true // fall through to readrest with a new, invalid page
                }
            }

            // readrest (seed:1780)
            if needPager && tryPager(fs), let m = fs.m {
                let seqaccess = fs.entry.behavior == .random ? 0 : -1
                // seed:1813 I/O may insert pages: no shared lock here either.
                if fs.object === fs.firstObject && fs.firstShared {
                    physmem.deactivate(m, meter: &meter)
                    fs.m = nil
                    fs.firstShared = false
                    unlockThings(&fs)
                    fs.relockRetry = true
                    return .tryAgain
                }
                if fs.object !== fs.firstObject && fs.shared {
                    physmem.deactivate(m, meter: &meter)
                    fs.m = nil
                    fs.firstShared = false
                    fs.shared = false
                    unlockThings(&fs)
                    fs.relockRetry = true
                    return .tryAgain
                }
                // seed:1854 the map is unlocked across the I/O.
                fs.lookupStillValid = false
                let rv = vmPagerGetPage(fs.object, m, seqaccess: seqaccess)
                if rv == .ok {
                    // seed:1886 relookup; the pager may have replaced the page.
                    guard let found = fs.object.lookup(pindex) else {
                        unlockThings(&fs)
                        return .tryAgain
                    }
                    fs.m = found
                    fs.hardfault += 1
                    break pageSearch // PAGE HAS BEEN FOUND
                }
                if rv == .error { pagerErrors += 1 }
                // seed:1938 a page the pager does not have in a backing object is scrapped.
                if fs.object !== fs.firstObject {
                    if let bogus = fs.m { vnodePagerFreePage(bogus) }
                    fs.m = nil
                }
                // seed:1959 an I/O error fails the fault.
                if rv == .error || rv == .bad {
                    if let bogus = fs.m {
                        if fs.firstShared {
                            physmem.deactivate(bogus, meter: &meter)
                        } else {
                            vnodePagerFreePage(bogus)
                        }
                        fs.m = nil
                    }
                    unlockThings(&fs)
                    return rv == .error ? .failure : .protectionFailure
                }
            }

            // seed:1992 the top object's page becomes the COW target unless a deeper page is
            // mapped read-only (then the cleanup frees it).
            if fs.object === fs.firstObject { fs.firstM = fs.m }

            // seed:2002 move on to the backing object.
            guard let next = fs.object.backingObject else {
                // seed:2012 no object left: zero-fill the page in the top object.
                if fs.object !== fs.firstObject {
                    fs.object = fs.firstObject
                    pindex = firstPindex
                    fs.m = fs.firstM
                }
                fs.firstM = nil
                guard let m = fs.m else {
                    unlockThings(&fs)
                    return .failure
                }
                m.valid = true // vm_page_zero_fill
                meter.v_zfod += 1
                break pageSearch
            }
            pindex += offToIdx(fs.object.backingObjectOffset)
            fs.object = next
        }

        // PAGE HAS BEEN FOUND (seed:2060)
        guard var m = fs.m else { return .failure }
        if fs.object !== fs.firstObject {
            if faultType.contains(.write) {
                // seed:2080 a write to a page owned by a backing object: copy it up.
                guard let firstM = fs.firstM else { return .failure }
                if virtualCopyOK(&fs) {
                    // seed:2103 move the page into the first object instead of copying.
                    vmPageProtectNone(firstM)
                    vmPageRemove(firstM)
                    vmPageRename(m, fs.firstObject, firstPindex)
                    vmPageFree(firstM)
                    fs.firstM = m
                    fs.m = nil
                    meter.v_cow_optim += 1
                } else {
                    // seed:2137 vm_page_copy, then unmap the source from the current pmap only.
                    firstM.valid = true
                    firstM.markDirty()
                    copyPageContents(from: m, to: firstM)
                    if let cur = currentPmap { pmapRemoveSpecific(cur, m) }
                }
                // seed:2147 release_page: the old page is deactivated.
                if let old = fs.m {
                    physmem.deactivate(old, meter: &meter)
                    fs.m = nil
                }
                meter.v_cow_faults += 1
                fs.m = fs.firstM
                fs.object = fs.firstObject
                pindex = firstPindex
                m = fs.firstM ?? m
            } else {
                // seed:2185 a read maps the backing page read-only rather than copying it.
                fs.prot.remove(.write)
            }
        }

        // seed:2200 relock the map after I/O; its timestamp cannot have changed here.
        if !fs.lookupStillValid, let map = fs.map {
            fs.lookupStillValid = true
            if map.timestamp != fs.mapGeneration {
                physmem.deactivate(m, meter: &meter)
                fs.m = nil
                unlockThings(&fs)
                return .tryAgain
            }
        }

        // seed:2229 activate; a write dirties the page now.
        physmem.activate(m, meter: &meter)
        if fs.prot.contains(.write) {
            if let o = m.object { vmObjectSetWriteableDirty(o) }
            vmSetNosync(m, fs.entry)
            if fs.faultFlags.contains(.dirty) {
                m.markDirty()
                if m.flags.contains(.swapped) {
                    // seed:2242 swap_pager_unswapped needs the exclusive lock.
                    if (fs.object === fs.firstObject && fs.firstShared)
                        || (fs.object !== fs.firstObject && fs.shared)
                    {
                        fs.m = nil
                        if fs.object === fs.firstObject {
                            fs.firstShared = false
                        } else {
                            fs.shared = false
                        }
                        unlockThings(&fs)
                        return .tryAgain
                    }
                    swapPagerUnswapped(m)
                }
            }
        }
        fs.m = m
        return .success
    }

    /// P_LOWMEMKILL: the faulting process was chosen by the OOM killer while it waited.
    var lowMemoryKilled: Bool {
        guard let p = current else { return false }
        return killedPids.contains(p.pid)
    }

    /// The access audit's check of the lock-upgrade shortcut in vm_fault: the lookup it skipped,
    /// done anyway, must give the state it kept. A failure is kept for the replay to report.
    private func auditRelockedLookup(_ map: VMMap, _ vaddr: UInt64, _ faultType: VMProt,
                                     _ fs: borrowing FaultState, _ firstPindex: Int64)
    {
        guard auditFailure == nil else { return }
        var wflags: WireFlags = []
        let before = map.timestamp
        let (rv, lookup) = vmMapLookup(map, vaddr, faultType, wflags: &wflags)
        guard rv == .success, let l = lookup, map.timestamp == before, l.entry === fs.entry,
              l.object === fs.firstObject, l.pindex == firstPindex, l.prot == fs.firstProt,
              wflags == fs.wflags
        else {
            auditFailure = InvariantViolation(.accessRights, "vm_fault at 0x\(String(vaddr, radix: 16)) kept a fault state across a lock-upgrade retry that vm_map_lookup no longer gives")
            return
        }
    }

    /// TRYPAGER (seed:350): a non-DEFAULT object, unless this is a wiring fault on an unwired entry.
    @inline(__always) func tryPager(_ fs: borrowing FaultState) -> Bool {
        fs.object.type != .default
            && (fs.faultFlags.intersection(.wireMask).isEmpty || fs.wflags.contains(.wired))
    }

    /// virtual_copy_test (seed:271)
    func virtualCopyTest(_ fs: borrowing FaultState) -> Bool {
        if fs.firstShared || fs.shared || tunables.virtualCopyEnable == 0 { return false }
        if let map = fs.map, fs.mapGeneration != map.timestamp { return false }
        if fs.object.shadowCount != 1 { return false }
        if fs.object.refCount != 1 { return false }
        if fs.object.hasHandle { return false }
        if !fs.object.type.isAnonymous { return false }
        if fs.object !== fs.firstObject.backingObject { return false }
        return true
    }

    /// virtual_copy_ok (seed:320). Note the test only proceeds when the map lock was dropped
    /// (lookup_still_valid == FALSE, i.e. after pager I/O): with the map still locked it returns
    /// 0, so a COW from an orphaned backing object found resident is always a real copy.
    func virtualCopyOK(_ fs: inout FaultState) -> Bool {
        if virtualCopyTest(fs) {
            if !fs.lookupStillValid, let map = fs.map {
                fs.lookupStillValid = true // LK_EXCLUSIVE|LK_NOWAIT always succeeds here
                if virtualCopyTest(fs) {
                    map.timestamp &+= 1
                    fs.mapGeneration = map.timestamp
                    return true
                }
                fs.lookupStillValid = false
            }
        }
        return false
    }

    /// vm_set_nosync (seed:2694)
    func vmSetNosync(_ m: VMPage, _ entry: VMMapEntry) {
        if entry.eflags.contains(.nosync) {
            if !m.dirty { m.setFlag(.nosync) }
        } else {
            m.clearFlag(.nosync)
        }
    }

    /// The seed's vm.debug_fault line (seed:665).
    func debugFaultLine(_ result: KernReturn, _ vaddr: UInt64, _ faultType: VMProt,
                        _ faultFlags: FaultFlags, _ fs: FaultState) -> String
    {
        func hex2(_ v: Int) -> String {
            let s = String(v, radix: 16)
            return s.count < 2 ? "0" + s : s
        }
        let mDesc = fs.m.map { "0x" + String(0xffff_f800_0000_0000 &+ $0.frame &* 0x80, radix: 16) } ?? "0x0"
        let entryDesc = "0x" + String(UInt(bitPattern: ObjectIdentifier(fs.entry).hashValue), radix: 16)
        return "VM_FAULT result \(result.rawValue) addr=\(String(vaddr, radix: 16)) type=\(hex2(Int(faultType.rawValue))) "
            + "flags=\(hex2(faultFlags.rawValue)) fs.m=\(mDesc) fs.prot=\(hex2(Int(fs.prot.rawValue))) "
            + "fs.wflags=\(hex2(fs.wflags.rawValue)) fs.entry=\(entryDesc)"
    }
}
