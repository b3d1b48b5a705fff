// The pageout daemon and its helpers (sys/vm/vm_pageout.c, vm_page.c; research §7): page
// reclamation when memory runs short, laundering dirty pages to swap or to their files,
// vm_wait_pfault, the out-of-memory kill, and the RLIMIT_RSS check at the end of vm_fault.
//
// When the daemon runs (the replay is single-threaded, so this is a documented model):
//   * vm_page_alloc wakes it whenever vm_paging_needed() (pagedaemon_wakeup); it then runs at
//     the next safe point — before the next trace event — as the real daemon would run as soon
//     as the faulting thread yields;
//   * a fault that must wait for memory (vm_wait_pfault, vm_wait) runs it synchronously, as
//     the sleeping thread would wait for it.
// One run is vm_pageout_scan repeated with pass = 0, 1, 2 ... while the shortage lasts and the
// passes make progress: inactive scan, active scan, cache scan, then the OOM kill.
import X86MMU

/// Daemon statistics beyond the vmmeter counters.
public struct PageoutStats: Equatable, Sendable {
    /// Runs of the daemon (each counted in v_pdwakeups).
    public var runs: UInt64 = 0
    /// Pages moved to PQ_CACHE by the daemon.
    public var cached: UInt64 = 0
    /// Pages deactivated by the daemon or the RSS enforcement.
    public var deactivated: UInt64 = 0
    /// Processes killed for lack of memory and swap.
    public var oomKills: UInt64 = 0
    /// vm_pageout_deficit increments: allocations that failed.
    public var allocationFailures: UInt64 = 0
    /// Pages unmapped from a process by RLIMIT_RSS enforcement.
    public var rssDeactivations: UInt64 = 0

    public init() {}
}

extension Kernel {
    // MARK: waking and waiting

    /// pagedaemon_wakeup: ask for a run at the next safe point.
    func pagedaemonWakeup() {
        pagedaemonWanted = true
    }

    /// Runs the daemon if it was woken. Called before every event.
    @inline(__always) func pageoutSafePoint() {
        if pagedaemonWanted { runPagedaemon() }
    }

    /// vm_wait_pfault: only if vm_page_count_min(0); while memory is severely short, let the
    /// daemon work (it runs synchronously here).
    func vmWaitPfault() {
        guard physmem.countMin(0) else { return }
        var rounds = 0
        while physmem.countSevere() && physmem.countTarget() && rounds < 4 {
            runPagedaemon()
            rounds += 1
            if let p = current, killedPids.contains(p.pid) { return }
        }
    }

    // MARK: the daemon

    /// vm_pageout_thread: one wakeup, scans until the shortage is gone or nothing moves.
    func runPagedaemon() {
        pagedaemonWanted = false
        pageoutStats.runs += 1
        meter.v_pdwakeups += 1
        // The real daemon keeps looping (pass 0, 1, 2, ...) while short, sleeping briefly
        // between passes; a run here is those passes back to back, bounded.
        for pass in 0..<32 {
            let shortage = vmPageoutScan(pass: pass)
            if shortage <= 0 && !physmem.countMin(0) { break }
            // Out of memory and swap (vm_pageout_scan_cache): kill the largest process once
            // swap is (almost) full from the second pass on.
            if swapAlmostFull && pass > 1 && (physmem.countMin(0) || shortage > 0) {
                oomKill()
                break
            }
        }
        pageoutDeficit = 0
    }

    /// swap_pager_almost_full: no swap at all, or less than 4% of it free (research §7.3).
    var swapAlmostFull: Bool {
        swapSpace.totalBlocks == 0 || (swapSpace.totalBlocks - swapSpace.usedBlocks) * 25 < swapSpace.totalBlocks
    }

    /// vm_paging_target(): pages short of free_target + cache_min.
    func pagingTarget() -> Int {
        let t = physmem.thresholds
        return (t.v_free_target + t.v_cache_min) - (physmem.freeCount + physmem.cacheCount)
    }

    /// vm_pageout_scan: one pass. Returns the remaining avail shortage.
    @discardableResult
    func vmPageoutScan(pass: Int) -> Int {
        var availShortage = pagingTarget() + pageoutDeficit
        var maxLaunder = Int(pass == 0 ? tunables.maxLaunder : max(tunables.maxLaunder, 10000))

        // Inactive scan.
        if availShortage > 0 {
            var m = physmem.inactiveHead
            var budget = physmem.inactiveCount
            while let page = m, budget > 0, availShortage > 0 {
                m = physmem.next(after: page)
                budget -= 1
                meter.v_pdpages += 1
                availShortage -= vmPageoutPage(page, pass: pass, maxLaunder: &maxLaunder)
                if pagingTarget() < -Int(tunables.maxLaunder) { break }
            }
        }

        // Active scan: keep the inactive queue at its target.
        let t = physmem.thresholds
        var inactiveShortage = t.v_inactive_target - physmem.inactiveCount
        if availShortage > 0 { inactiveShortage += min(2 * availShortage, t.v_inactive_target / 10) }
        if inactiveShortage > 0 {
            var m = physmem.activeHead
            var budget = physmem.activeCount
            while let page = m, budget > 0, inactiveShortage > 0 {
                m = physmem.next(after: page)
                budget -= 1
                meter.v_pdpages += 1
                if page.wireCount > 0 {
                    physmem.unqueue(page)
                    continue
                }
                let objectDead = (page.object?.refCount ?? 0) == 0 && page.object?.type != .vnode
                var refs = pmapTSReferenced(page)
                if page.flags.contains(.referenced) {
                    page.clearFlag(.referenced)
                    refs += 1
                }
                if objectDead { refs = 0 }
                if refs > 0 {
                    page.actCount = UInt8(min(Int(page.actCount) + 3 + refs, Int(actMax)))
                    physmem.enqueue(page, .active) // requeue at the tail
                    continue
                }
                let decline = page.object?.type.isAnonymous == true ? tunables.anonmemDecline : tunables.filememDecline
                page.actCount = UInt8(max(Int(page.actCount) - Int(decline), 0))
                if Int(page.actCount) < pass + 1 || objectDead {
                    if availShortage > 0 && !page.dirty && !pmapIsModified(page) && page.valid {
                        vmPageCache(page)
                        availShortage -= 1
                    } else {
                        physmem.deactivate(page, meter: &meter)
                        pageoutStats.deactivated += 1
                    }
                    inactiveShortage -= 1
                } else {
                    physmem.enqueue(page, .active)
                }
            }
        }

        // Cache scan: free cached pages while free is below the midpoint of min and target.
        while physmem.freeCount < (t.v_free_min + t.v_free_target) / 2, let c = physmem.cacheHead {
            meter.v_dfree += 1
            vmPageFree(c)
        }
        return availShortage
    }

    /// vm_pageout_page: one inactive page. Returns how much it reduced the shortage.
    private func vmPageoutPage(_ m: VMPage, pass: Int, maxLaunder: inout Int) -> Int {
        if m.wireCount > 0 {
            physmem.unqueue(m)
            return 0
        }
        if m.holdCount > 0 {
            physmem.enqueue(m, .inactive)
            return 0
        }
        let objectDead = (m.object?.refCount ?? 0) == 0 && m.object?.type != .vnode
        let refs = objectDead ? 0 : pmapTSReferenced(m)
        if objectDead { m.clearFlag(.referenced) }
        if refs > 0 && !m.flags.contains(.referenced) {
            physmem.activate(m, meter: &meter)
            m.actCount = UInt8(min(Int(m.actCount) + refs + Int(actAdvance), Int(actMax)))
            return 0
        }
        if m.flags.contains(.referenced) {
            m.clearFlag(.referenced)
            physmem.activate(m, meter: &meter)
            m.actCount = UInt8(min(Int(m.actCount) + refs + Int(actAdvance) + 1, Int(actMax)))
            return 0
        }
        if !m.valid {
            meter.v_dfree += 1
            vmPageFree(m)
            return 1
        }
        if !m.dirty && pmapIsModified(m) { m.markDirty() }
        if !m.dirty {
            vmPageCache(m)
            return 1
        }
        // Dirty: a second chance on the first pass, then launder.
        if pass == 0 && !m.flags.contains(.winatcfls) {
            m.setFlag(.winatcfls)
            physmem.enqueue(m, .inactive)
            return 0
        }
        guard maxLaunder > 0 else {
            physmem.enqueue(m, .inactive)
            return 0
        }
        maxLaunder -= 1
        m.clearFlag(.winatcfls)
        if vmPageoutClean(m) { return 0 } // clean now; cached on a later scan
        physmem.activate(m, meter: &meter)
        return 0
    }

    /// vm_page_cache: unmap a clean page and move it to PQ_CACHE.
    func vmPageCache(_ m: VMPage) {
        vmPageProtectNone(m)
        if m.dirty { return }
        physmem.cache(m)
        pageoutStats.cached += 1
    }

    /// vm_pageout_clean / putpages: write a dirty page to swap (anonymous) or its file.
    /// Returns false when it cannot be written (no swap space).
    func vmPageoutClean(_ m: VMPage) -> Bool {
        guard let o = m.object else { return false }
        vmPageProtectReadOnly(m)
        if pmapIsModified(m) { m.markDirty() }
        switch o.type {
        case .default, .swap:
            // swap_pager_putpages: a swap block per page; DEFAULT becomes SWAP (research §4).
            if let old = o.swapBlocks[m.pindex] {
                swapSpace.free(old)
                o.swapBlocks[m.pindex] = nil
            }
            guard let block = swapSpace.allocate() else { return false }
            o.swapBlocks[m.pindex] = block
            swapOutPageContents(m, block: block)
            if o.type == .default { o.type = .swap }
            m.setFlag(.swapped)
            meter.v_swapout += 1
            meter.v_swappgsout += 1
        case .vnode:
            meter.v_vnodeout += 1
            meter.v_vnodepgsout += 1
        default:
            return false
        }
        m.dirty = false
        m.clearFlag(.nosync)
        return true
    }

    // MARK: the out-of-memory kill

    /// Kills the process with the largest resident set (vm_pageout's OOM path): its address
    /// space is torn down; later events for it are ignored.
    func oomKill() {
        guard let victim = procs.values.max(by: {
            ($0.map.pmap.residentCount, $1.pid) < ($1.map.pmap.residentCount, $0.pid)
        }) else { return }
        pageoutStats.oomKills += 1
        killedPids.insert(victim.pid)
        try? exit(pid: victim.pid)
    }

    // MARK: RLIMIT_RSS (seed:770-791, research §7.4)

    /// The RSS check after a user-mode fault: above the limit plus 4096 pages of hysteresis, the
    /// map's pages are deactivated (vm_pageout_map_deactivate_pages).
    func rssLimitCheck(_ p: Proc) {
        guard tunables.pageoutMemuseMode >= 1, !p.hasExited else { return }
        let limit = rssLimitPages
        let size = p.map.pmap.residentTLNWCount
        if size > 4096 && size - 4096 >= limit {
            vmPageoutMapDeactivatePages(p, limit: limit)
        }
    }

    /// RLIMIT_RSS in pages: vmreplay.rlimit_rss, or all of memory (vm_init_limits: free pages
    /// at boot).
    var rssLimitPages: Int {
        tunables.rlimitRSS > 0 ? Int(tunables.rlimitRSS >> 12) : physmem.pageCount
    }

    /// vm_pageout_map_deactivate_pages: scan the pmap from a rotating cursor, unmapping
    /// unreferenced pages until the resident count is under the limit (at most 3 extra wraps).
    func vmPageoutMapDeactivatePages(_ p: Proc, limit: Int) {
        let pmap = p.map.pmap
        var wraps = 0
        while pmap.residentTLNWCount > limit && wraps < 4 {
            var candidates: [(UInt64, PTE)] = []
            pmap.table.forEachPresent(from: p.rssCursor, to: vmMaxUserAddress) { va, pte in
                if pte.raw & (PTE.wired | PTE.device) != 0 || pte.raw & PTE.managed == 0 { return }
                candidates.append((va, pte))
            }
            for (va, pte) in candidates {
                if pmap.residentTLNWCount <= limit {
                    p.rssCursor = va
                    return
                }
                meter.v_pdpages += 1
                let m = physmem.page(frame: pte.frame)
                if pte.raw & PTE.accessed != 0 || m.flags.contains(.referenced) {
                    // Referenced: keep it, and age it up.
                    pmap.table.updatePTE(at: va) { $0.raw &= ~PTE.accessed }
                    mmu.invalidate(pmap.table, va: va)
                    m.clearFlag(.referenced)
                    if m.queue == .active {
                        m.actCount = UInt8(min(Int(m.actCount) + Int(actAdvance), Int(actMax)))
                    } else {
                        physmem.activate(m, meter: &meter)
                    }
                    continue
                }
                pmapRemovePTE(pmap, va, pte)
                pageoutStats.rssDeactivations += 1
                if m.mappingCount == 0 {
                    physmem.deactivate(m, meter: &meter)
                    pageoutStats.deactivated += 1
                    // Mode 2 launders synchronously; mode 1 leaves the page to the daemon.
                    if tunables.pageoutMemuseMode >= 2 && m.dirty { _ = vmPageoutClean(m) }
                }
            }
            p.rssCursor = 0
            wraps += 1
        }
    }
}
