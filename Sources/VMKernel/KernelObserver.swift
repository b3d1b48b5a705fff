// A listener for where the counters change, for vmreplay's attribution and timeline. The engine
// calls it only off the per-access fast path (after a trap, a prefaulted page's first use, a
// vm_fault_page, or when an unused prefaulted PTE goes), so a replay without one pays a nil test
// on those paths and nothing on a TLB hit.

public protocol KernelObserver: AnyObject {
    /// `p` touched `va` and the kernel took part: a page-fault trap was handled (whatever its
    /// outcome), a prefaulted PTE saw its first use, or vm_fault_page ran (peek/poke).
    func pageTouched(_ p: Proc, _ va: UInt64)
    /// A prefaulted PTE of the address space with pmap `pmapID` at `va` was removed, replaced or
    /// left at the end without a use: `counters.prefaultUnused` just grew by one.
    func prefaultUnused(pmapID: UInt32, va: UInt64)
}

extension Kernel {
    /// A live process, for observers that read its rusage.
    public func liveProcess(_ pid: UInt32) -> Proc? { procs[pid] }
}
