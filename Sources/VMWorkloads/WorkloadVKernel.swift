// `vmreplay gen vkernel`: a DragonFly vkernel running a guest through a virtual page table.
import VMTrace

/// One process, the vkernel, maps its guest memory MAP_VPAGETABLE (an anonymous image of
/// `tablePages + guestPages` pages) and builds a four-level virtual page table in it with
/// `store` events, through a linear master entry (VPTE_PS) set by `madvise ... setmap`:
///
///   object page 0: T0, page 1: T1, page 2: T2 (one entry per leaf table),
///   pages 3 ..< 3+k: the k leaf tables, 512 VPTEs each,
///   pages 3+k ..< 3+k+guestPages: guest frames, handed out in a seeded order.
///
/// It then points the master entry at T0 and runs the guest: `touches` 8-byte accesses to
/// guest pages (a hot quarter gets 80% of them), writes with probability `writeFraction` except
/// on the first eighth of the guest pages, whose VPTEs lack VPTE_RW (guest text: read only).
/// `scans` times during the run the vkernel scans its pages as a pageout daemon would: it
/// switches back to the linear master, clears VPTE_A and VPTE_M in every fourth leaf VPTE,
/// and switches back (each MADV_SETMAP drops the real PTEs), so the guest's next accesses walk
/// the table again and its next writes set VPTE_M again (vm_fault_vpagetable, seed:1386-1513).
/// Between scans the guest changes context now and then: MADV_INVAL of its whole range.
public struct VKernelWorkload: TraceWorkload, Sendable {
    /// Pages of guest memory mapped by the table (at least 1).
    public var guestPages: Int
    public var touches: Int
    public var writeFraction: Double
    public var scans: Int
    public var seed: UInt64

    public init(guestPages: Int = 256, touches: Int = 20_000, writeFraction: Double = 0.3, scans: Int = 2,
                seed: UInt64 = 1) {
        self.guestPages = Swift.max(1, guestPages)
        self.touches = Swift.max(0, touches)
        self.writeFraction = writeFraction
        self.scans = Swift.max(0, scans)
        self.seed = seed
    }

    /// Leaf tables: one per 512 guest pages.
    public var leafTables: Int { (guestPages + 511) / 512 }
    /// Table pages in front of the guest frames (T0, T1, T2 and the leaves).
    public var tablePages: Int { 3 + leafTables }

    public func makeIterator() -> WorkloadIterator<VKernelScript> {
        WorkloadIterator(VKernelScript(self))
    }
}

/// The state machine behind `VKernelWorkload`.
public struct VKernelScript: WorkloadScript {
    private enum Phase { case start, leaves(Int), run, done }

    /// VPTE bits (sys/vkernel.h): V, RW, U, A, M, PS.
    private static let valid: UInt64 = 0x1, readWrite: UInt64 = 0x2, user: UInt64 = 0x4
    private static let pageSize: UInt64 = 0x80
    private static let chunk = 512

    private let pid: UInt32 = 1
    private let w: VKernelWorkload
    private let base: UInt64
    private let writes: Chance
    private var rng: Xoshiro256StarStar
    /// Guest page v is object page `tablePages + frames[v]`.
    private var frames: [Int]
    private var phase = Phase.start
    private var done = 0
    private var nextScan = 1

    init(_ w: VKernelWorkload) {
        self.w = w
        rng = Xoshiro256StarStar(seed: w.seed)
        base = rng.randomizedBase(WorkloadLayout.mmapBase)
        writes = Chance(w.writeFraction)
        frames = Array(0..<w.guestPages)
        for i in stride(from: frames.count - 1, to: 0, by: -1) {
            frames.swapAt(i, Int(rng.below(UInt64(i + 1))))
        }
    }

    private var length: UInt64 { UInt64(w.tablePages + w.guestPages) * tracePageSize }
    private var readOnlyPages: Int { w.guestPages / 8 }

    /// Address of object page `page` (word `index`) through the linear master.
    private func linear(_ page: Int, _ index: Int = 0) -> UInt64 {
        base + UInt64(page) * tracePageSize + UInt64(index) * 8
    }

    private func table(_ page: Int) -> UInt64 { UInt64(page) << 12 | Self.valid | Self.readWrite | Self.user }

    private func leaf(_ v: Int) -> UInt64 {
        let frame = UInt64(w.tablePages + frames[v]) << 12 | Self.valid | Self.user
        return v < readOnlyPages ? frame : frame | Self.readWrite
    }

    private func setmap(_ value: UInt64, _ out: inout EventBatch) {
        out.append(.setmap(pid: pid, address: base, length: length, value: value))
    }

    private func storeLeaf(_ v: Int, _ out: inout EventBatch) {
        out.append(.store(pid: pid, address: linear(3 + v / 512, v % 512), value: leaf(v)))
    }

    public mutating func refill(_ out: inout EventBatch) -> Bool {
        switch phase {
        case .start:
            out.append(.proc(pid: pid, threads: 1))
            out.mmap(pid, base, length, [.read, .write], [.vpagetable])
            setmap(Self.valid | Self.readWrite | Self.pageSize, &out) // linear: guest page p = object page p
            out.append(.store(pid: pid, address: linear(0), value: table(1)))
            out.append(.store(pid: pid, address: linear(1), value: table(2)))
            for j in 0..<w.leafTables {
                out.append(.store(pid: pid, address: linear(2, j), value: table(3 + j)))
            }
            phase = .leaves(0)
        case .leaves(let first):
            let end = Swift.min(first + Self.chunk, w.guestPages)
            for v in first..<end { storeLeaf(v, &out) }
            if end < w.guestPages {
                phase = .leaves(end)
            } else {
                setmap(table(0), &out)
                phase = .run
            }
        case .run:
            let end = Swift.min(done + Self.chunk, w.touches)
            while done < end {
                touch(&out)
                done += 1
                if nextScan <= w.scans && done == w.touches * nextScan / (w.scans + 1) {
                    scan(&out)
                    nextScan += 1
                } else if rng.below(1000) == 0 {
                    out.append(.madvise(pid: pid, address: base, length: length, advice: .inval))
                }
            }
            if done == w.touches {
                out.append(.exit(pid: pid))
                phase = .done
            }
        case .done:
            return false
        }
        return true
    }

    /// One guest access: 80% to the first quarter of the guest pages.
    private mutating func touch(_ out: inout EventBatch) {
        let hot = Swift.max(1, w.guestPages / 4)
        let v = rng.percent(80) ? Int(rng.below(UInt64(hot))) : Int(rng.below(UInt64(w.guestPages)))
        let address = base + UInt64(v) * tracePageSize + rng.below(tracePageSize / 8) * 8
        let write = v >= readOnlyPages && writes.happens(&rng)
        out.access(write ? .write : .read, pid, address, 8)
    }

    /// The vkernel's page scan: clear A and M in every fourth leaf (rewriting it as first built).
    private func scan(_ out: inout EventBatch) {
        setmap(Self.valid | Self.readWrite | Self.pageSize, &out)
        for v in stride(from: 0, to: w.guestPages, by: 4) { storeLeaf(v, &out) }
        setmap(table(0), &out)
    }
}
