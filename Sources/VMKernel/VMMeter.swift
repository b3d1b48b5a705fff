// Counters (sys/sys/vmmeter.h, sys/vm/vm_meter.c; research §8.1) plus the replay's own
// measurements (SPEC §3: trap.*, prefault.*, mem.*). Kernel counters keep DragonFly's names.

/// struct vmmeter: the `vm.stats.vm.*` counters the simulation increments.
public struct VMMeter: Equatable, Sendable {
    /// "VM faults": once per successful vm_fault and once per prefaulted page (seed:741, 2951, 2988, 3173).
    public var v_vm_faults: UInt64 = 0
    /// "Zero fill" (seed:2045, 2942)
    public var v_zfod: UInt64 = 0
    /// "Optimized zero fill": nobody increments it at d709358f.
    public var v_ozfod: UInt64 = 0
    /// "COW faults" (seed:2176), both the copy and the rename branch.
    public var v_cow_faults: UInt64 = 0
    /// "Optimized COW faults" (seed:2110)
    public var v_cow_optim: UInt64 = 0
    /// "In transit page blocking" (seed:1633; swap_pager_getpage)
    public var v_intrans: UInt64 = 0
    /// "Intransit map collisions (total)" / "... which blocked" (vm_map.c)
    public var v_intrans_coll: UInt64 = 0
    public var v_intrans_wait: UInt64 = 0
    /// Pager counters (swap_pager.c, vnode_pager.c).
    public var v_swapin: UInt64 = 0
    public var v_swapout: UInt64 = 0
    public var v_swappgsin: UInt64 = 0
    public var v_swappgsout: UInt64 = 0
    public var v_vnodein: UInt64 = 0
    public var v_vnodeout: UInt64 = 0
    public var v_vnodepgsin: UInt64 = 0
    public var v_vnodepgsout: UInt64 = 0
    /// "Reactivated pages": a PQ_CACHE page activated or deactivated.
    public var v_reactivated: UInt64 = 0
    /// "Pages freed by exiting processes": vm_object_terminate.
    public var v_pfree: UInt64 = 0
    /// "Total pages freed": vm_page_free_toq.
    public var v_tfree: UInt64 = 0
    /// "Number of fork() calls" and "VM pages affected by fork()".
    public var v_forks: UInt64 = 0
    public var v_forkpages: UInt64 = 0
    /// Pagedaemon counters (modelled with memory pressure).
    public var v_pdwakeups: UInt64 = 0
    public var v_pdpages: UInt64 = 0
    public var v_dfree: UInt64 = 0
    public var v_ppwakeups: UInt64 = 0

    public init() {}
}

/// What the replay measures about the simulated machine (not kernel counters).
public struct ReplayCounters: Equatable, Sendable {
    /// Page-fault exceptions raised by the MMU (calls of trap_pfault).
    public var pageFaults: UInt64 = 0
    /// User faults that ended in SIGSEGV, split as trap() delivers them (research §1).
    public var segvMaperr: UInt64 = 0
    public var segvAccerr: UInt64 = 0
    /// Kernel-mode faults (kr/kw) that failed: copyin/copyout would return EFAULT.
    public var copyFaults: UInt64 = 0
    /// `goto RetryFault` executions in vm_fault (KERN_TRY_AGAIN and growstack retries).
    public var faultRetries: UInt64 = 0
    /// Pages entered by vm_prefault / vm_prefault_quick.
    public var prefaultPages: UInt64 = 0
    /// Of those, zero-filled by vm_prefault (vm.fast_fault).
    public var prefaultZfod: UInt64 = 0
    /// Prefaulted PTEs whose first later use succeeded while still mapped.
    public var prefaultHits: UInt64 = 0
    /// Prefaulted PTEs removed or replaced without a successful use, or untouched at the end.
    public var prefaultUnused: UInt64 = 0
    /// Pages entered read-only at mmap/madvise time by pmap_object_init_pt (research §6.4).
    public var initPTPages: UInt64 = 0
    /// vm_fault_page calls (peek/poke) and their failures.
    public var faultPageCalls: UInt64 = 0
    public var faultPageErrors: UInt64 = 0
    /// Syscall-like events that failed (mprotect beyond max_protection, mlock of unmapped, ...).
    public var syscallErrors: UInt64 = 0
    /// Pages that kept faulting after successful vm_fault calls (the replay gave up on them).
    public var faultLivelocks: UInt64 = 0
    /// Accesses performed and pages they touched.
    public var accesses: UInt64 = 0
    public var pagesTouched: UInt64 = 0

    public var sigsegv: UInt64 { segvMaperr + segvAccerr }

    public init() {}
}

/// Per-lwp resource usage (struct rusage fields the fault path touches).
public struct RUsage: Equatable, Sendable {
    public var ru_minflt: UInt64 = 0
    public var ru_majflt: UInt64 = 0
    public init() {}
}
