// The pageout side of the VM system (sys/vm/vm_pageout.c; research §7): vm_wait_pfault and the
// RLIMIT_RSS check at the end of vm_fault. With ample memory neither ever acts.

extension Kernel {
    /// vm_wait_pfault: only waits while vm_page_count_min(0); the pagedaemon would run here.
    func vmWaitPfault() {
        guard physmem.countMin(0) else { return }
    }

    /// seed:770-791: the RLIMIT_RSS check after a user-mode fault (vm.pageout_memuse_mode >= 1).
    func rssLimitCheck(_ p: Proc) {
        _ = p
    }
}
