// Reads the kernel's counters into a report, in SPEC §3 order: tunables, kernel counters,
// rusage, traps, prefault, mmu, memory, per-process figures, replay measurements.
import VMKernel

enum ReportBuilder {
    static func build(configuration: ReplayConfiguration, kernel: Kernel, events: UInt64,
                      eventsAfterKill: UInt64) -> Report {
        var r = Report()
        // Tunables in force, echoed.
        for d in Sysctl.all { r.set(d.name, configuration.tunables[keyPath: d.keyPath]) }
        r.set("vmreplay.phys_mem", configuration.physicalMemory)
        r.set("vmreplay.swap", configuration.swap)

        let m = kernel.meter
        let vm = "vm.stats.vm."
        r.set(vm + "v_vm_faults", m.v_vm_faults)
        r.set(vm + "v_zfod", m.v_zfod)
        r.set(vm + "v_ozfod", m.v_ozfod)
        r.set(vm + "v_cow_faults", m.v_cow_faults)
        r.set(vm + "v_cow_optim", m.v_cow_optim)
        r.set(vm + "v_intrans", m.v_intrans)
        r.set(vm + "v_reactivated", m.v_reactivated)
        r.set(vm + "v_swapin", m.v_swapin)
        r.set(vm + "v_swapout", m.v_swapout)
        r.set(vm + "v_swappgsin", m.v_swappgsin)
        r.set(vm + "v_swappgsout", m.v_swappgsout)
        r.set(vm + "v_vnodein", m.v_vnodein)
        r.set(vm + "v_vnodeout", m.v_vnodeout)
        r.set(vm + "v_vnodepgsin", m.v_vnodepgsin)
        r.set(vm + "v_vnodepgsout", m.v_vnodepgsout)
        r.set(vm + "v_pdwakeups", m.v_pdwakeups)
        r.set(vm + "v_pdpages", m.v_pdpages)
        r.set(vm + "v_dfree", m.v_dfree)
        r.set(vm + "v_pfree", m.v_pfree)
        r.set(vm + "v_tfree", m.v_tfree)
        r.set(vm + "v_forks", m.v_forks)
        let pm = kernel.physmem
        let t = pm.thresholds
        r.set(vm + "v_page_size", 4096)
        r.set(vm + "v_page_count", t.v_page_count)
        r.set(vm + "v_free_count", pm.freeCount)
        r.set(vm + "v_wire_count", pm.wiredCount)
        r.set(vm + "v_active_count", pm.activeCount)
        r.set(vm + "v_inactive_count", pm.inactiveCount)
        r.set(vm + "v_cache_count", pm.cacheCount)
        r.set(vm + "v_free_min", t.v_free_min)
        r.set(vm + "v_free_reserved", t.v_free_reserved)
        r.set(vm + "v_free_target", t.v_free_target)
        r.set(vm + "v_inactive_target", t.v_inactive_target)
        r.set(vm + "v_cache_min", t.v_cache_min)
        r.set(vm + "v_cache_max", t.v_cache_max)
        r.set(vm + "v_pageout_free_min", t.v_pageout_free_min)
        r.set(vm + "v_interrupt_free_min", t.v_interrupt_free_min)
        r.set("vm.stats.sys.v_intrans_coll", m.v_intrans_coll)
        r.set("vm.stats.sys.v_intrans_wait", m.v_intrans_wait)

        let total = kernel.totalRusage
        r.set("rusage.ru_minflt", total.ru_minflt)
        r.set("rusage.ru_majflt", total.ru_majflt)

        let c = kernel.counters
        r.set("trap.page_faults", c.pageFaults)
        r.set("trap.sigsegv", c.sigsegv)
        r.set("trap.segv_maperr", c.segvMaperr)
        r.set("trap.segv_accerr", c.segvAccerr)
        r.set("trap.copy_efault", c.copyFaults)

        r.set("prefault.pages", c.prefaultPages)
        r.set("prefault.zfod", c.prefaultZfod)
        r.set("prefault.hits", c.prefaultHits)
        r.set("prefault.unused", c.prefaultUnused)
        r.set("prefault.init_pt_pages", c.initPTPages)

        let mc = kernel.mmu.counters
        r.set("mmu.dtlb.hits", mc.dtlbHits)
        r.set("mmu.dtlb.misses", mc.dtlbMisses)
        r.set("mmu.itlb.hits", mc.itlbHits)
        r.set("mmu.itlb.misses", mc.itlbMisses)
        r.set("mmu.stlb.hits", mc.stlbHits)
        r.set("mmu.stlb.misses", mc.stlbMisses)
        r.set("mmu.walks", mc.walks)
        r.set("mmu.dirty_assists", mc.dirtyAssists)
        r.set("mmu.faults", mc.faults)
        r.set("mmu.tlb_flushes", mc.flushes)
        r.set("mmu.invalidations", mc.invalidations)
        r.set("mmu.page_table_pages", kernel.pageTablePages)

        r.set("mem.resident_pages", pm.inUse)
        r.set("mem.peak_resident_pages", pm.peakInUse)
        r.set("mem.mapped_pages", kernel.mappedPages)
        r.set("mem.page_allocs", pm.allocations)
        r.set("mem.page_frees", pm.frees)
        r.set("mem.swap_pages", configuration.swap >> 12)
        r.set("mem.swap_used", kernel.swapUsedPages)
        let po = kernel.pageoutStats
        r.set("mem.pagedaemon_runs", po.runs)
        r.set("mem.pageout_cached", po.cached)
        r.set("mem.pageout_deactivated", po.deactivated)
        r.set("mem.rss_deactivations", po.rssDeactivations)
        r.set("mem.alloc_failures", po.allocationFailures)
        r.set("mem.oom_kills", po.oomKills)

        r.set("vmobject.live", kernel.liveObjects)
        r.set("vmobject.collapses", kernel.objectCollapses)
        r.set("vmobject.bypasses", kernel.objectBypasses)

        for (pid, ru) in kernel.rusageByPid.sorted(by: { $0.key < $1.key }) {
            r.set("proc.\(pid).ru_minflt", ru.ru_minflt)
            r.set("proc.\(pid).ru_majflt", ru.ru_majflt)
        }

        r.set("replay.events", events)
        r.set("replay.accesses", c.accesses)
        r.set("replay.pages_touched", c.pagesTouched)
        r.set("replay.fault_retries", c.faultRetries)
        r.set("replay.fault_page_calls", c.faultPageCalls)
        r.set("replay.fault_page_errors", c.faultPageErrors)
        r.set("replay.syscall_errors", c.syscallErrors)
        r.set("replay.pager_errors", kernel.pagerErrors)
        r.set("replay.livelocks", c.faultLivelocks)
        r.set("replay.events_after_kill", eventsAfterKill)
        return r
    }
}
