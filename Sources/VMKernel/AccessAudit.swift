// The access audit: after every access the replay lets complete, re-read the page table and the
// map the way the CPU and the kernel would and assert that the access was allowed. It is the
// deliberately simple reference the fast paths (L1 hits inline, runs counted in one step) are
// held to: a write that completes through a PTE without PG_RW, or any access that completes
// through a PTE the entry's protection could never have produced, is an engine bug, however the
// access got through. `--check-invariants` turns it on (with the fast paths still running).
import X86MMU

extension Kernel {
    /// Checks one page of an access by the running process that completed (no fault left, no
    /// signal): the leaf PTE, read straight from the page table, is present and grants the
    /// access as SDM §4.6 says (U/S for CPL 3, R/W for any write with CR0.WP=1, XD for a fetch),
    /// a completed write left D set, and the map entry that covers the page allows the rights
    /// the PTE gives (vm_fault enters fs.prot, what vm_map_lookup returned, at seed:692), so a
    /// PTE that outlived an mprotect or munmap shows up here.
    /// Peeks and pokes go through vm_fault_page, not the MMU, and are not audited.
    public func auditCompletedAccess(pid: UInt32, page va: UInt64, type: AccessType) throws(InvariantViolation) {
        guard let view = type.mmuView else { return }
        guard let p = procs[pid], p === current else {
            throw InvariantViolation(.accessRights, "access by \(pid) at \(hexString(va)) completed while it was not the running process")
        }
        let what = "\(type) by \(pid) at \(hexString(va))"
        guard let pte = p.map.pmap.table.pte(at: va), pte.isPresent else {
            throw InvariantViolation(.accessRights, "\(what) completed without a present PTE")
        }
        if view.user && !pte.isUser {
            throw InvariantViolation(.accessRights, "\(what) completed through a supervisor PTE \(pte)")
        }
        if view.access == .write && !pte.isWritable {
            throw InvariantViolation(.accessRights, "\(what) completed through a PTE without PG_RW \(pte)")
        }
        if view.access == .write && !pte.isDirty {
            throw InvariantViolation(.accessRights, "\(what) completed without setting PG_M \(pte)")
        }
        if view.access == .execute && pte.isNoExecute {
            throw InvariantViolation(.accessRights, "\(what) completed through an NX PTE \(pte)")
        }
        guard let entry = p.map.entry(containing: va) else {
            throw InvariantViolation(.accessRights, "\(what) completed through a PTE \(pte) outside every map entry")
        }
        // The rights the entry lets a PTE carry: its protection; the seed enters max_protection
        // for a wired entry's copy at fork (vm_fault_copy_entry, seed:2445) and when mlock wires
        // a segment its protection does not let it read (the OVERRIDE_WRITE lookup, seed:462).
        let allowed = entry.ptesAtMaxProtection ? entry.protection.union(entry.maxProtection) : entry.protection
        // x86 cannot express write-only or execute-only: any right makes the page readable
        // (pte_prot maps every non-empty protection to a present PTE, research §6.2).
        if allowed.intersection([.read, .write, .execute]).isEmpty {
            throw InvariantViolation(.accessRights, "\(what) completed in an entry with protection --- (PTE \(pte))")
        }
        if pte.isWritable && !allowed.contains(.write) {
            throw InvariantViolation(.accessRights, "\(what) completed through a writable PTE \(pte) in an entry whose protection forbids writing")
        }
    }

    /// Audits one page of an access that completed there (every caller audits page by page, as
    /// the access proceeds); the first failure is kept for the replay to report.
    func auditPage(_ p: Proc, _ va: UInt64, _ type: AccessType) {
        guard auditFailure == nil else { return }
        do throws(InvariantViolation) {
            if mmu.elidedInvalidationHits > 0 {
                throw InvariantViolation(.accessRights, "a TLB held a translation that pmap_enter's invalidation was sure was absent (\(mmu.elidedInvalidationHits) so far)")
            }
            try auditCompletedAccess(pid: p.pid, page: truncPage(va), type: type)
        } catch {
            auditFailure = error
        }
    }
}

private func hexString(_ v: UInt64) -> String { "0x" + String(v, radix: 16) }
