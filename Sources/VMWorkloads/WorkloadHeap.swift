// `vmreplay gen heap`: a malloc-like heap that grows by brk-style chunks and gives tails back.
import VMTrace

/// A process runs a simple allocator over a heap at a fixed base. The heap grows by anonymous
/// mmaps of `chunk` bytes (more for a large request) at its current end, so each abuts the
/// previous one and vm_map_insert coalesces it into the same entry and object. Allocations
/// (16 bytes to 64 KiB, mostly small) write their header and first bytes (and one word a page
/// of a large block); each is followed by reads and a write of other live blocks, and often by
/// a free, whose block a later allocation of a fitting size reuses. When the heap would pass
/// `maxHeap`, a phase ends: every block above a random cut (25 to 60% of the heap) is freed and
/// the allocator returns the tail to the kernel with munmap; growth then starts again from the
/// cut (coalescing into the shrunk entry, whose object drops the pages left past its end).
public struct HeapWorkload: TraceWorkload, Sendable {
    public var allocations: Int
    /// The largest the heap gets (bytes, whole pages, at least 1 MiB and 4 chunks).
    public var maxHeap: UInt64
    /// Growth step (bytes, whole pages), like malloc's top pad.
    public var chunk: UInt64
    public var seed: UInt64

    public init(allocations: Int = 100_000, maxHeap: UInt64 = 64 << 20, chunk: UInt64 = 128 << 10,
                seed: UInt64 = 1) {
        self.allocations = Swift.max(0, allocations)
        self.chunk = wholePages(chunk)
        self.maxHeap = Swift.max(wholePages(maxHeap), 1 << 20, 4 * self.chunk)
        self.seed = seed
    }

    public static let largestBlock: UInt64 = 64 << 10

    public func makeIterator() -> WorkloadIterator<HeapScript> { WorkloadIterator(HeapScript(self)) }
}

public struct HeapScript: WorkloadScript {
    private struct Block {
        var address: UInt64
        var size: UInt64
        var end: UInt64 { address + size }
    }

    private static let maxLive = 4096
    private static let maxFree = 1024
    private static let headerSize: UInt64 = 16
    private let pid: UInt32 = 1
    private let w: HeapWorkload
    private let program = ProgramStart.small("/usr/local/bin/alloc")
    private var rng: Xoshiro256StarStar
    private var started = false
    private var ended = false
    private var allocated = 0
    /// Next free byte (bump pointer) and end of the mapped heap.
    private var top = WorkloadLayout.heapBase
    private var brk = WorkloadLayout.heapBase
    /// Live blocks the program still uses (bounded: when full, a random one is forgotten and
    /// stays allocated, never touched again).
    private var live: [Block] = []
    /// Freed blocks waiting for reuse (bounded: the oldest are dropped).
    private var free: [Block] = []
    private var mallocCode: UInt64 = 0
    private var freeCode: UInt64 = 0

    init(_ w: HeapWorkload) {
        self.w = w
        rng = Xoshiro256StarStar(seed: w.seed)
    }

    public mutating func refill(_ out: inout EventBatch) -> Bool {
        if !started {
            started = true
            program.begin(&rng, &out)
            mallocCode = program.image.randomFunction(&rng)
            freeCode = program.image.randomFunction(&rng)
            return true
        }
        guard allocated < w.allocations else {
            guard !ended else { return false }
            ended = true
            out.append(.exit(pid: pid))
            return true
        }
        // A few allocations a batch.
        for _ in 0..<16 where allocated < w.allocations {
            allocateAndUse(&out)
        }
        return true
    }

    /// Sizes 16 B to 64 KiB in 16-byte steps, mostly small.
    private mutating func blockSize() -> UInt64 {
        let u = rng.below(100)
        if u < 55 { return 16 * (1 + rng.below(8)) }
        if u < 85 { return 16 * (9 + rng.below(56)) }
        if u < 97 { return 1024 * (2 + rng.below(15)) }
        return 4096 * (5 + rng.below(12))
    }

    private mutating func allocateAndUse(_ out: inout EventBatch) {
        allocated += 1
        let size = blockSize()
        program.image.fetch(pid, at: mallocCode, count: 3, &rng, &out)
        let block: Block
        if let i = free.lastIndex(where: { $0.size >= size && $0.size <= 2 * size }) {
            block = free.remove(at: i)
        } else {
            let need = size + Self.headerSize
            if top + need > brk { grow(need, &out) }
            block = Block(address: top + Self.headerSize, size: size)
            top += need
        }
        // The header, the first bytes, one word a page of a large block, the last word.
        out.access(.write, pid, block.address - 8, 8)
        var offset: UInt64 = 0
        while offset < Swift.min(block.size, 64) {
            out.access(.write, pid, block.address + offset, 8)
            offset += 8
        }
        offset = tracePageSize
        while offset < block.size {
            out.access(.write, pid, block.address + offset, 8)
            offset += tracePageSize
        }
        if block.size > 64 { out.access(.write, pid, block.end - 8, 8) }
        if live.count < Self.maxLive {
            live.append(block)
        } else {
            live[Int(rng.below(UInt64(live.count)))] = block
        }
        // Use other live blocks.
        for kind in [AccessKind.read, .read, .write] {
            let b = live[Int(rng.below(UInt64(live.count)))]
            out.access(kind, pid, rng.word(in: b.address, b.size), 8)
        }
        if rng.percent(45) { freeOne(&out) }
    }

    /// free(): the allocator writes the block's header and its free-list links.
    private mutating func freeOne(_ out: inout EventBatch) {
        let b = live.remove(at: Int(rng.below(UInt64(live.count))))
        program.image.fetch(pid, at: freeCode, count: 2, &rng, &out)
        out.access(.write, pid, b.address - 8, 8)
        out.access(.write, pid, b.address, 8)
        if b.size >= 16 { out.access(.write, pid, b.address + 8, 8) }
        if free.count == Self.maxFree { free.removeFirst(Self.maxFree / 4) }
        free.append(b)
    }

    /// Extends the heap by at least `need` bytes past `top`, with an mmap that abuts the heap's
    /// end; ends a phase first when that would pass the maximum.
    private mutating func grow(_ need: UInt64, _ out: inout EventBatch) {
        var step = Swift.max(w.chunk, wholePages(top + need - brk))
        if brk + step - WorkloadLayout.heapBase > w.maxHeap {
            trim(&out)
            step = Swift.max(w.chunk, wholePages(top + need - brk))
        }
        out.mmap(pid, brk, step, [.read, .write])
        brk += step
    }

    /// The end of a phase: everything above a cut is freed, and the tail goes back to the kernel.
    private mutating func trim(_ out: inout EventBatch) {
        let used = brk - WorkloadLayout.heapBase
        let keep = used / 100 * (25 + rng.below(36)) / tracePageSize * tracePageSize
        let cut = WorkloadLayout.heapBase + Swift.max(tracePageSize, keep)
        live.removeAll { $0.end > cut }
        free.removeAll { $0.end > cut }
        if live.isEmpty {
            // Keep one block to work on: rebuild the first below the cut.
            live.append(Block(address: WorkloadLayout.heapBase + Self.headerSize, size: 16))
        }
        out.access(.write, pid, cut - 8, 8)  // the new top chunk's header
        out.append(.munmap(pid: pid, address: cut, length: brk - cut))
        brk = cut
        top = Swift.min(top, cut)
    }
}
