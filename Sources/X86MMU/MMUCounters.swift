// Event counts of one simulated CPU's MMU.

/// Event counts of one `MMU`, all starting at 0.
public struct MMUCounters: Equatable, Hashable, Sendable {
    /// Reads and writes found in the L1 dTLB.
    public var dtlbHits: UInt64 = 0
    /// Reads and writes not found in the L1 dTLB.
    public var dtlbMisses: UInt64 = 0
    /// Instruction fetches found in the L1 iTLB.
    public var itlbHits: UInt64 = 0
    /// Instruction fetches not found in the L1 iTLB.
    public var itlbMisses: UInt64 = 0
    /// L1 misses found in the STLB.
    public var stlbHits: UInt64 = 0
    /// L1 misses not found in the STLB (each is followed by a walk).
    public var stlbMisses: UInt64 = 0
    /// Page walks, including those done for dirty assists.
    public var walks: UInt64 = 0
    /// Translations that ended in a #PF.
    public var faults: UInt64 = 0
    /// Writes that hit a TLB entry whose cached D was clear and re-walked to set D.
    public var dirtyAssists: UInt64 = 0
    /// Whole-TLB flushes: CR3 loads by `activate` and `invalidateAll`.
    public var flushes: UInt64 = 0
    /// Single-page invalidations (invlpg) by `invalidate` on the active table.
    public var invalidations: UInt64 = 0

    public init() {}
}
