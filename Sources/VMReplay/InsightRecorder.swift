// Where and when the counters change: the recorder listens to the kernel (KernelObserver) and to
// the replayer's non-access events, and charges every change of the FaultTally counters to a
// mapping (attribution) and to a window of accesses (timeline).
//
// It never runs on the per-access fast path: the kernel calls it after a trap, a prefaulted
// page's first use, a vm_fault_page, or an unused prefault's removal, and the replayer after
// each non-access event. At each call the change of the global counters since the previous call
// is the work done since then (nothing in between changes them: a TLB hit counts only
// accesses), so it is charged to the address just handled. Unused prefaults are charged one by
// one where their PTE goes (a munmap, an exit, the pagedaemon, the end), not to whoever runs.
import VMKernel
import VMTrace

public final class InsightRecorder: KernelObserver {
    /// The kernel holds the recorder as its observer until `finish` lets go.
    private let kernel: Kernel
    let ledger: MappingLedger?
    let timeline: TimelineRecorder?
    /// The global counters at the last charge.
    private var last = FaultTally()
    /// Each live process's rusage at the last charge.
    private var lastRusage: [UInt32: RUsage] = [:]
    /// Which process each address space (pmap id) belongs to.
    private var pidByPmap: [UInt32: UInt32] = [:]
    private var lastSyscallErrors: UInt64 = 0

    /// Listens to `replayer`'s kernel: attribution when `attribute`, a timeline of at most
    /// `timelineWindows` windows when given.
    public init(replayer: Replayer, attribute: Bool, timelineWindows: Int?) {
        kernel = replayer.kernel
        ledger = attribute ? MappingLedger() : nil
        timeline = timelineWindows.map { TimelineRecorder(windows: $0) }
        replayer.insight = self
        kernel.observer = self
    }

    /// The access the kernel is handling (0-based), or the next one between accesses.
    private var accessIndex: UInt64 { kernel.counters.accesses }

    private func charge(_ tally: FaultTally, pid: UInt32, va: UInt64?, at index: UInt64) {
        guard !tally.isZero else { return }
        ledger?.charge(tally, pid: pid, va: va)
        timeline?.add(tally, at: index)
    }

    /// The change since the last charge, `pid`'s rusage included.
    private func takeDelta(pid: UInt32, rusage: RUsage?) -> FaultTally {
        let now = FaultTally.globalCounters(of: kernel)
        var d = now - last
        last = now
        if let rusage {
            let before = lastRusage[pid] ?? RUsage()
            d[.minflt] = rusage.ru_minflt &- before.ru_minflt
            d[.majflt] = rusage.ru_majflt &- before.ru_majflt
            lastRusage[pid] = rusage
        }
        return d
    }

    public func pageTouched(_ p: Proc, _ va: UInt64) {
        let d = takeDelta(pid: p.pid, rusage: p.rusage)
        charge(d, pid: p.pid, va: va, at: max(accessIndex, 1) - 1)
    }

    public func prefaultUnused(pmapID: UInt32, va: UInt64) {
        last[.prefaultUnused] &+= 1
        var d = FaultTally()
        d[.prefaultUnused] = 1
        if let pid = pidByPmap[pmapID] {
            charge(d, pid: pid, va: va, at: accessIndex)
        } else {
            ledger?.chargeKernel(d)
            timeline?.add(d, at: accessIndex)
        }
    }

    /// After the replayer applied a non-access event (number `number`) without a kernel error.
    func didApply(_ event: TraceEvent, number: UInt64) {
        let failed = kernel.counters.syscallErrors != lastSyscallErrors
        lastSyscallErrors = kernel.counters.syscallErrors
        let (pid, va) = event.subject
        // What the event itself did: mlock's faults, madvise's prefaults, ...
        let d = takeDelta(pid: pid ?? 0, rusage: pid.flatMap { kernel.liveProcess($0)?.rusage })
        if let pid {
            charge(d, pid: pid, va: va, at: accessIndex)
        } else if !d.isZero {
            ledger?.chargeKernel(d)
            timeline?.add(d, at: accessIndex)
        }
        if !failed { ledger?.apply(event, number: number) }
        switch event {
        case .proc(let p, _), .exec(let p):
            lastRusage[p] = kernel.liveProcess(p)?.rusage
            if let id = kernel.map(of: p)?.pmap.id { pidByPmap[id] = p }
        case .fork(_, let child):
            lastRusage[child] = kernel.liveProcess(child)?.rusage
            if let id = kernel.map(of: child)?.pmap.id { pidByPmap[id] = child }
        case .exit(let p):
            lastRusage[p] = nil
        default:
            break
        }
        if let kind = TimelineMarks.Kind(event) { timeline?.mark(kind, at: accessIndex) }
    }

    /// After the replay's end: whatever the report counts that no call accounted for (nothing,
    /// unless the engine changed a counter off the paths the observer hears) goes to the
    /// kernel's row, so that the tables' sums are the report's totals by construction.
    public func finish(report: Report) -> (attribution: [AttributionGrouping: AttributionTable], timeline: Timeline?) {
        kernel.observer = nil
        var charged = FaultTally()
        if let ledger { for t in ledger.tallies { charged += t } } else if let timeline { charged = timeline.total }
        let rest = FaultTally.totals(of: report) - charged
        if !rest.isZero {
            ledger?.chargeKernel(rest)
            timeline?.add(rest, at: accessIndex)
        }
        var tables: [AttributionGrouping: AttributionTable] = [:]
        if let ledger {
            for g in AttributionGrouping.allCases { tables[g] = AttributionTable(grouping: g, ledger: ledger) }
        }
        return (tables, timeline?.finish(accesses: kernel.counters.accesses))
    }
}

extension TraceEvent {
    /// The process an event acts for and the address it starts at, if any.
    var subject: (pid: UInt32?, address: UInt64?) {
        switch self {
        case .proc(let pid, _), .threads(let pid, _), .exec(let pid), .exit(let pid): return (pid, nil)
        case .fork(let parent, _): return (parent, nil)
        case .mmap(let m): return (m.pid, m.address)
        case .munmap(let pid, let a, _), .mprotect(let pid, let a, _, _), .madvise(let pid, let a, _, _),
             .mlock(let pid, let a, _), .munlock(let pid, let a, _):
            return (pid, a)
        case .access(let a): return (a.pid, a.address)
        default: return (nil, nil)
        }
    }
}
