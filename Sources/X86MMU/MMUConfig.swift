// The TLB sizes of one simulated CPU.

/// TLB geometry of one CPU. Defaults are Skylake-class 4 KiB-page TLBs (Intel Optimization
/// Reference Manual, Skylake microarchitecture: L1 dTLB 64 entries 4-way, L1 iTLB 128 entries
/// 8-way, unified STLB 1536 entries 12-way).
public struct MMUConfig: Equatable, Hashable, Sendable {
    /// L1 data TLB (reads and writes): 16 sets of 4.
    public var l1dTLB = TLBGeometry(entries: 64, ways: 4)
    /// L1 instruction TLB (instruction fetches): 16 sets of 8.
    public var l1iTLB = TLBGeometry(entries: 128, ways: 8)
    /// Second-level TLB shared by both: 128 sets of 12.
    public var stlb = TLBGeometry(entries: 1536, ways: 12)

    public init() {}

    public init(l1dTLB: TLBGeometry, l1iTLB: TLBGeometry, stlb: TLBGeometry) {
        self.l1dTLB = l1dTLB
        self.l1iTLB = l1iTLB
        self.stlb = stlb
    }
}
