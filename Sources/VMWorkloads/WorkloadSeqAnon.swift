// `vmreplay gen seq-anon`: a large calloc()ed block filled front to back.
import VMTrace

/// A process maps a large anonymous region (as malloc does for a big calloc) and walks it
/// sequentially, one touch every `stride` bytes, for `passes` passes; the first pass is the
/// first touch of every page (zero-fill faults). Each touch is a write with probability
/// `writeFraction`, else a read.
public struct SequentialAnonWorkload: TraceWorkload, Sendable {
    /// Bytes in the region (rounded up to whole pages).
    public var size: UInt64
    /// Bytes from one touch to the next (touches are 8 bytes, or less when the stride is).
    public var stride: UInt64
    public var writeFraction: Double
    public var passes: Int
    public var seed: UInt64

    public init(size: UInt64 = 64 << 20, stride: UInt64 = 64, writeFraction: Double = 1, passes: Int = 1,
                seed: UInt64 = 1) {
        self.size = wholePages(size)
        self.stride = Swift.max(1, stride)
        self.writeFraction = writeFraction
        self.passes = Swift.max(0, passes)
        self.seed = seed
    }

    /// Touches of the region (instruction fetches of the loop come on top).
    public var touches: Int { passes * Int((size + stride - 1) / stride) }

    public func makeIterator() -> WorkloadIterator<RegionScript> {
        var rng = Xoshiro256StarStar(seed: seed)
        let region = Mapping(pid: 1, address: rng.randomizedBase(WorkloadLayout.mmapBase), length: size,
                             protection: [.read, .write])
        return WorkloadIterator(RegionScript(program: .small("/usr/local/bin/fill"), region: region,
                                             order: .sequential(stride: stride, passes: passes),
                                             writeFraction: writeFraction, rng: rng))
    }
}
