import X86MMU

/// An MMU config from (entries, ways) pairs, for tiny, hand-traceable TLBs.
func config(dtlb: (Int, Int), itlb: (Int, Int) = (2, 2), stlb: (Int, Int)) -> MMUConfig {
    MMUConfig(
        l1dTLB: TLBGeometry(entries: dtlb.0, ways: dtlb.1),
        l1iTLB: TLBGeometry(entries: itlb.0, ways: itlb.1),
        stlb: TLBGeometry(entries: stlb.0, ways: stlb.1))
}

/// An MMU with `config` and `t` active.
func mmu(_ config: MMUConfig, _ t: PageTable) -> MMU {
    let m = MMU(config: config)
    m.activate(t)
    return m
}
