// `vmreplay gen random-anon`: random touches over an anonymous working set.
import VMTrace

/// A process maps an anonymous region of `workingSet` bytes and touches it `touches` times at
/// uniformly random spots (1 to 8 bytes, aligned), a write with probability `writeFraction`:
/// a hash table or a sparse matrix with no locality beyond the page.
public struct RandomAnonWorkload: TraceWorkload, Sendable {
    /// Bytes in the region (rounded up to whole pages).
    public var workingSet: UInt64
    public var touches: Int
    public var writeFraction: Double
    public var seed: UInt64

    public init(workingSet: UInt64 = 64 << 20, touches: Int = 1_000_000, writeFraction: Double = 0.3,
                seed: UInt64 = 1) {
        self.workingSet = wholePages(workingSet)
        self.touches = Swift.max(0, touches)
        self.writeFraction = writeFraction
        self.seed = seed
    }

    public func makeIterator() -> WorkloadIterator<RegionScript> {
        var rng = Xoshiro256StarStar(seed: seed)
        let region = Mapping(pid: 1, address: rng.randomizedBase(WorkloadLayout.mmapBase), length: workingSet,
                             protection: [.read, .write])
        return WorkloadIterator(RegionScript(program: .small("/usr/local/bin/probe"), region: region,
                                             order: .random(touches: touches),
                                             writeFraction: writeFraction, rng: rng))
    }
}
