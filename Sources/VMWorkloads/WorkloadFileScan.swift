// `vmreplay gen file-scan`: a file mapped and read from front to back.
import VMTrace

/// A process maps a file read-only (private or shared), optionally tells the kernel how it will
/// read it (madvise MADV_SEQUENTIAL or MADV_RANDOM), and reads it sequentially, 8 bytes every
/// `stride` bytes, `passes` times. A cold file (`resident` false) costs a major fault, and
/// read-ahead, on first touch; a resident one only minor faults.
public struct FileScanWorkload: TraceWorkload, Sendable {
    /// Bytes in the file (rounded up to whole pages).
    public var size: UInt64
    public var stride: UInt64
    public var passes: Int
    /// `.normal` gives no madvise event.
    public var advice: Advice
    /// All the file's pages start in the page cache.
    public var resident: Bool
    /// MAP_SHARED rather than MAP_PRIVATE.
    public var shared: Bool
    public var seed: UInt64

    public init(size: UInt64 = 64 << 20, stride: UInt64 = 64, passes: Int = 1, advice: Advice = .normal,
                resident: Bool = false, shared: Bool = false, seed: UInt64 = 1) {
        self.size = wholePages(size)
        self.stride = Swift.max(1, stride)
        self.passes = Swift.max(0, passes)
        self.advice = advice
        self.resident = resident
        self.shared = shared
        self.seed = seed
    }

    public var touches: Int { passes * Int((size + stride - 1) / stride) }

    static let fileID: UInt32 = 2

    public func makeIterator() -> WorkloadIterator<RegionScript> {
        var rng = Xoshiro256StarStar(seed: seed)
        let region = Mapping(pid: 1, address: rng.randomizedBase(WorkloadLayout.mmapBase), length: size,
                             protection: [.read], flags: shared ? [.shared] : [], fileID: Self.fileID)
        let file = TraceEvent.file(id: Self.fileID, size: size, resident: resident, path: "/var/db/scan.dat")
        return WorkloadIterator(RegionScript(program: .small("/usr/bin/scan"), file: file, region: region,
                                             advice: advice == .normal ? nil : advice,
                                             order: .sequential(stride: stride, passes: passes),
                                             writeFraction: 0, rng: rng))
    }
}
