// The simulated machine: one CPU with its MMU, physical memory, the processes and files, and
// the counters. The other files of this module extend it, one kernel concept each.
import X86MMU

public final class Kernel {
    /// The tunables in force (as set before the workload ran).
    public let tunables: Tunables
    // The per-access path reads and bumps these; the replay is single-threaded per kernel, so
    // the runtime's dynamic exclusivity checks (a third of the time per access in a callgrind
    // profile) buy nothing here.
    /// vm.stats.vm.* counters.
    @exclusivity(unchecked) public internal(set) var meter = VMMeter()
    /// The replay's own measurements (trap.*, prefault.*, ...).
    @exclusivity(unchecked) public internal(set) var counters = ReplayCounters()
    public let physmem: PhysicalMemory
    @exclusivity(unchecked) var swapSpace: SwapSpace
    /// The words `store` events wrote (PageContents.swift).
    @exclusivity(unchecked) var pageContents = PageContents()
    /// The CPU's MMU (TLBs, page walker).
    public let mmu: MMU

    @exclusivity(unchecked) var procs: [UInt32: Proc] = [:]
    @exclusivity(unchecked) var files: [UInt32: VNode] = [:]
    @exclusivity(unchecked) var pmaps: [UInt32: PMap] = [:]
    /// The process whose address space is loaded on the CPU (curproc).
    @exclusivity(unchecked) var current: Proc? {
        didSet {
            currentRef = current.map { Unmanaged.passUnretained($0) }
            currentPid = current?.pid ?? 0
        }
    }
    /// `current`'s pid (0: none; the trace layer never gives a process pid 0).
    @exclusivity(unchecked) private(set) var currentPid: UInt32 = 0
    /// `current` without reference counting, for the per-access path (kept alive by `current`).
    @exclusivity(unchecked) private(set) var currentRef: Unmanaged<Proc>?
    /// Its pmap, or nil while the kernel acts for someone outside the trace (a debugger).
    @exclusivity(unchecked) var currentPmap: PMap?

    @exclusivity(unchecked) var nextObjectID = 0
    @exclusivity(unchecked) var nextPmapID: UInt32 = 0
    /// Objects allocated and not yet terminated (vnode objects included).
    @exclusivity(unchecked) public internal(set) var liveObjects = 0
    /// object_collapses / object_bypasses (vm_object.c statistics).
    @exclusivity(unchecked) public internal(set) var objectCollapses: UInt64 = 0
    @exclusivity(unchecked) public internal(set) var objectBypasses: UInt64 = 0
    /// Pager read errors (the seed's "vm_fault: pager read error" console lines).
    @exclusivity(unchecked) public internal(set) var pagerErrors: UInt64 = 0
    /// Fictitious pages get frame numbers far above any RAM frame (device physical memory).
    let deviceFrameBase: UInt64 = 1 << 36
    @exclusivity(unchecked) var nextDeviceFrame: UInt64 = 0
    /// Holder of the fictitious pages UKSMAP entries hand out.
    let uksmapObject: VMObject
    /// vm.debug_fault's decrementing count (seed:664).
    @exclusivity(unchecked) var debugFaultRemaining: Int64
    /// Where console output (vm.debug_fault, vm.debug_cluster) goes.
    @exclusivity(unchecked) public var console: ((String) -> Void)?
    /// Told of every SIGSEGV a user fault delivers: pid, faulting address, SEGV_ACCERR (else
    /// SEGV_MAPERR). Off the hot path: only failed faults reach it.
    @exclusivity(unchecked) public var onSigsegv: ((_ pid: UInt32, _ address: UInt64, _ accerr: Bool) -> Void)?
    /// Told where the counters change (KernelObserver); nil unless a report attributes them.
    @exclusivity(unchecked) public var observer: KernelObserver?

    /// Pagedaemon state: woken by vm_page_alloc, run at the next safe point.
    @exclusivity(unchecked) var pagedaemonWanted = false
    /// vm_pageout_deficit: allocations that failed since the last run.
    @exclusivity(unchecked) var pageoutDeficit = 0
    @exclusivity(unchecked) public internal(set) var pageoutStats = PageoutStats()
    /// The access audit (AccessAudit.swift): every page an access completes is checked against
    /// the page table and the map. Off by default; `--check-invariants` turns it on.
    @exclusivity(unchecked) public var auditAccesses = false {
        didSet { mmu.verifyElidedInvalidations = auditAccesses }
    }
    /// The first access the audit found not allowed (the replay reports it and stops).
    @exclusivity(unchecked) public internal(set) var auditFailure: InvariantViolation?
    /// Processes the OOM killer ended; the trace's later events for them are ignored.
    @exclusivity(unchecked) public internal(set) var killedPids: Set<UInt32> = []

    /// rusage of processes that have exited, by pid.
    @exclusivity(unchecked) var exitedRusage = RUsage()
    @exclusivity(unchecked) var exitedProcs: [UInt32: RUsage] = [:]

    /// - Parameters:
    ///   - physicalMemory: bytes of simulated RAM.
    ///   - swap: bytes of swap space.
    public init(tunables: Tunables = Tunables(), physicalMemory: UInt64 = 64 << 30,
                swap: UInt64 = 0) throws(SysctlError)
    {
        self.tunables = tunables
        var config = MMUConfig()
        config.l1dTLB = try Kernel.geometry(tunables.dtlbEntries, tunables.dtlbWays, "dtlb")
        config.l1iTLB = try Kernel.geometry(tunables.itlbEntries, tunables.itlbWays, "itlb")
        config.stlb = try Kernel.geometry(tunables.stlbEntries, tunables.stlbWays, "stlb")
        mmu = MMU(config: config)
        physmem = PhysicalMemory(pages: Int(physicalMemory >> pageShift))
        swapSpace = SwapSpace(pages: Int64(swap >> pageShift))
        uksmapObject = VMObject(id: 0, type: .phys, size: Int64.max)
        debugFaultRemaining = tunables.debugFault
    }

    static func geometry(_ entries: Int64, _ ways: Int64, _ name: String) throws(SysctlError) -> TLBGeometry {
        let sets = entries / max(ways, 1)
        guard ways >= 1, entries % ways == 0, sets > 0, sets & (sets - 1) == 0 else {
            throw .invalid(name: "vmreplay.tlb.\(name)_entries", value: entries,
                           reason: "entries / ways (\(ways)) must be a power of two")
        }
        return TLBGeometry(entries: Int(entries), ways: Int(ways))
    }

    /// Makes `p` the running process: its page tables are loaded into CR3.
    func switchTo(_ p: Proc) {
        current = p
        currentPmap = p.map.pmap
        mmu.activate(p.map.pmap.table)
    }

    func debugLog(_ line: String) { console?(line) }

    // MARK: queries for reports

    /// Pids of the live processes, sorted.
    public var livePids: [UInt32] { procs.keys.sorted() }

    /// rusage per pid, exited processes included.
    public var rusageByPid: [UInt32: RUsage] {
        var r = exitedProcs
        for (pid, p) in procs {
            r[pid, default: RUsage()].ru_minflt += p.rusage.ru_minflt
            r[pid, default: RUsage()].ru_majflt += p.rusage.ru_majflt
        }
        return r
    }

    /// rusage summed over every process.
    public var totalRusage: RUsage {
        var t = RUsage()
        for (_, r) in rusageByPid {
            t.ru_minflt += r.ru_minflt
            t.ru_majflt += r.ru_majflt
        }
        return t
    }

    /// Page-table pages in use over all live address spaces.
    public var pageTablePages: Int { pmaps.values.reduce(0) { $0 + $1.table.tablePages } }

    /// Resident (mapped) terminal PTEs over all live address spaces.
    public var mappedPages: Int { pmaps.values.reduce(0) { $0 + $1.table.presentCount } }

    /// The end of the trace: prefaulted PTEs still untouched count as unused.
    public func finish() {
        for pmap in pmaps.values {
            pmap.table.forEachPresent(from: 0, to: vmMaxUserAddress) { va, pte in
                if pte.raw & PTE.watch != 0 {
                    counters.prefaultUnused += 1
                    observer?.prefaultUnused(pmapID: pmap.id, va: va)
                }
            }
        }
    }

    /// `drop_caches`: clean, unmapped, unwired pages of files leave the page cache.
    public func dropCaches() {
        for vnode in files.values.sorted(by: { $0.fileID < $1.fileID }) {
            let victims = vnode.object.memq.allPages
                .filter { !$0.dirty && $0.mappingCount == 0 && $0.wireCount == 0 && $0.holdCount == 0 }
            for m in victims { vmPageFree(m) }
        }
    }

    /// Kernel map and file lookups for tests and reports.
    public func map(of pid: UInt32) -> VMMap? { procs[pid]?.map }
    public func file(_ id: UInt32) -> VNode? { files[id] }
}

extension Kernel {
    /// Swap blocks in use.
    public var swapUsedPages: Int64 { swapSpace.usedBlocks }
}
