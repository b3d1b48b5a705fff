// Checks that span several tunables: a value in range on its own can still make no machine
// (vmreplay.tlb.dtlb_entries=3 with 4 ways). Settings are checked with this before a replay
// starts, so such a value is a usage error (exit 64), not a failure halfway.

extension Tunables {
    /// Throws the error `Kernel(tunables:)` would for these tunables.
    public func checkCombination() throws(SysctlError) {
        _ = try Kernel.geometry(dtlbEntries, dtlbWays, "dtlb")
        _ = try Kernel.geometry(itlbEntries, itlbWays, "itlb")
        _ = try Kernel.geometry(stlbEntries, stlbWays, "stlb")
    }
}
