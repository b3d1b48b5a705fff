// Memory accesses and the page-fault trap: the MMU translates each page an access touches; a
// fault enters trap_pfault (sys/platform/pc64/x86_64/trap.c; research §1), which calls vm_fault
// with the fault type and flags derived from the x86 error code.
import X86MMU

/// Who performs an access and how.
public enum AccessType: UInt8, Sendable {
    case read, write, execute
    /// copyin / copyout on behalf of the process: kernel-mode faults, no burst, no RSS check.
    case kernelRead, kernelWrite
    /// Another process (a debugger) through vm_fault_page.
    case peek, poke
}

extension AccessType {
    /// The access as the MMU sees it: the kind of translation and whether it runs at CPL 3.
    /// nil for peek and poke, which go through the kernel (vm_fault_page), not the MMU.
    @inline(__always)
    var mmuView: (access: MMUAccess, user: Bool)? {
        switch self {
        case .read: return (.read, true)
        case .write: return (.write, true)
        case .execute: return (.execute, true)
        case .kernelRead: return (.read, false)
        case .kernelWrite: return (.write, false)
        case .peek, .poke: return nil
        }
    }
}

/// x86 page-fault error code bits (PGEX_*).
private let pgexWrite: UInt32 = 0x02
private let pgexInstruction: UInt32 = 0x10

extension Kernel {
    /// One access event: every page of [address, address+size) in address order.
    public func access(pid: UInt32, address: UInt64, size: UInt32, type: AccessType) throws(KernelError) {
        // The common case first: the running process touches one page through an L1 TLB entry
        // that allows the access (MMU.translateL1Hit). No trap is possible and no kernel code
        // runs, so only the pagedaemon's pending run has to be ruled out.
        if (address & pageMask) &+ UInt64(size) <= pageSize, let view = tlbHitView(pid, type),
           mmu.translateL1Hit(address, view.access, user: view.user)
        {
            counters.accesses &+= 1
            counters.pagesTouched &+= 1
            if auditAccesses { auditPage(current.unsafelyUnwrapped, address, type) }
            return
        }
        try accessSlowPath(pid: pid, address: address, size: size, type: type)
    }

    /// How the MMU sees an access by `pid` of `type` when a TLB hit would be the whole story:
    /// the running process, an access through the MMU, and no pagedaemon run pending (that
    /// runs first, and may unmap the page). nil otherwise.
    @inline(__always)
    private func tlbHitView(_ pid: UInt32, _ type: AccessType) -> (access: MMUAccess, user: Bool)? {
        guard pid == currentPid && !pagedaemonWanted else { return nil }
        return type.mmuView
    }

    /// The rest of a run of one-page accesses after its first (VMTrace's AccessRunMap): `count`
    /// accesses by `pid` within `address`'s page, each of kind `type` or a read after a write
    /// in the same mode. If `access` would take its fast path for the first of them, it would
    /// for every one (that path changes nothing but counters), so they are counted at once and
    /// the result is true. Otherwise nothing is done, and the caller applies them one by one.
    public func accessRepeats(pid: UInt32, address: UInt64, type: AccessType, count: UInt64) -> Bool {
        guard let view = tlbHitView(pid, type),
              mmu.translateL1Repeats(address, view.access, user: view.user, count: count)
        else { return false }
        counters.accesses &+= count
        counters.pagesTouched &+= count
        return true
    }

    @inline(never)
    private func accessSlowPath(pid: UInt32, address: UInt64, size: UInt32, type: AccessType) throws(KernelError) {
        pageoutSafePoint()
        // The running process skips the lookup. The access holds a strong reference: a fault in
        // it can wake the pagedaemon, whose OOM kill may end this very process (exit drops
        // `procs[pid]` and `current`, the only other owners), and the rest of the access still
        // reads the process (issue 16: a use-after-free with tiny phys_mem, found with ASan).
        if let ref = currentRef, ref._withUnsafeGuaranteedRef({ $0.pid == pid }) {
            accessPages(ref.takeUnretainedValue(), address, size, type)
            return
        }
        guard let p = procs[pid] else {
            throw killedPids.contains(pid) ? .killed(pid) : .unknownProcess(pid)
        }
        switchTo(p)
        accessPages(p, address, size, type)
    }

    @inline(__always)
    private func accessPages(_ p: Proc, _ address: UInt64, _ size: UInt32, _ type: AccessType) {
        counters.accesses &+= 1
        let last = size > 1 ? address &+ UInt64(size - 1) : address
        var va = truncPage(address)
        if last >= address && truncPage(last) == va {
            // One page: the common case.
            counters.pagesTouched &+= 1
            if touchPage(p, va, type) && auditAccesses { auditPage(p, va, type) }
            return
        }
        let lastPage = last < address ? truncPage(UInt64.max) : truncPage(last)
        while true {
            counters.pagesTouched += 1
            // A fault that ends in a signal (or EFAULT for copyin/copyout) abandons the
            // instruction: the access's later pages are not touched (SPEC §1).
            guard touchPage(p, va, type) else { break }
            if auditAccesses { auditPage(p, va, type) }
            if va >= lastPage { break }
            va += pageSize
        }
    }

    /// One page of an access. Returns false when the access stops here: its fault ended in
    /// SIGSEGV (trap() delivers it and the instruction is not restarted), copyin/copyout
    /// resumed at pcb_onfault with EFAULT, or the OOM killer ended the process.
    @inline(__always)
    private func touchPage(_ p: Proc, _ va: UInt64, _ type: AccessType) -> Bool {
        guard let (mmuAccess, user) = type.mmuView else {
            vmFaultPage(p, va, type == .poke ? [.read, .write] : .read)
            observer?.pageTouched(p, va)
            return !killedPids.contains(p.pid)
        }
        // After a successful vm_fault the instruction restarts; a page that keeps faulting would
        // loop forever on real hardware, so the replay gives up after a few rounds.
        for _ in 0..<4 {
            switch mmu.translate(va, mmuAccess, user: user) {
            case .ok:
                return true
            case .firstUseOfWatched:
                counters.prefaultHits += 1
                observer?.pageTouched(p, va)
                return true
            case .fault(let errorCode):
                counters.pageFaults += 1
                let retry = trapPfault(p, va, errorCode, user: user)
                observer?.pageTouched(p, va)
                if !retry { return false }
                if killedPids.contains(p.pid) { return false }
            }
        }
        // The instruction never completes; the replay abandons it as it would one that faulted.
        counters.faultLivelocks += 1
        return false
    }

    /// trap_pfault: returns true when the faulting access may be retried.
    private func trapPfault(_ p: Proc, _ va: UInt64, _ errorCode: UInt32, user: Bool) -> Bool {
        let rv: KernReturn
        if va >= vmMaxUserAddress {
            // A user-mode fault on a kernel address fails at once (nogo with rv=0: SIGSEGV).
            rv = .failure
        } else {
            // PGEX_P is ignored: not-present and protection faults take the same path.
            let ftype: VMProt
            if errorCode & pgexWrite != 0 {
                ftype = .write
            } else if errorCode & pgexInstruction != 0 {
                ftype = .execute
            } else {
                ftype = .read
            }
            var flags: FaultFlags = []
            if user { flags.formUnion([.burst, .userMode]) }
            if ftype.contains(.write) { flags.insert(.dirty) }
            rv = vmFault(p, va, ftype, flags)
        }
        if rv == .success { return true }
        if !user {
            // copyin/copyout resume at pcb_onfault and return EFAULT.
            counters.copyFaults += 1
        } else if rv == .protectionFailure {
            // SIGBUS from trap_pfault is delivered as SIGSEGV/SEGV_ACCERR by trap().
            counters.segvAccerr += 1
            onSigsegv?(p.pid, va, true)
        } else {
            counters.segvMaperr += 1
            onSigsegv?(p.pid, va, false)
        }
        return false
    }
}
