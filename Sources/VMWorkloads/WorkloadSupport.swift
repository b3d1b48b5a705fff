// What the generated workloads of `vmreplay gen` share: a lazily refilled event stream (so a
// 100M-access trace needs constant memory), the address-space layout of a small program as
// exec(2) builds it, realistic access sizes, and probabilities as integer thresholds so the same
// seed gives the same events on every machine.
import VMTrace

/// A trace generator: a lazy, deterministic sequence of events.
public protocol TraceWorkload: Sequence where Element == TraceEvent {}

extension TraceWorkload {
    /// Writes every event to `writer` (does not call `finish()`).
    public func write(to writer: TraceWriter) throws {
        for event in self { try writer.write(event) }
    }
}

/// The state machine behind a workload: each call appends the next few events (a batch whose
/// size does not grow with the trace) and returns false once the workload has ended.
public protocol WorkloadScript {
    mutating func refill(_ out: inout EventBatch) -> Bool
}

/// Hands out a script's events one at a time, refilling one batch buffer.
public struct WorkloadIterator<Script: WorkloadScript>: IteratorProtocol {
    private var script: Script
    private var batch = EventBatch()
    private var position = 0
    private var finished = false

    init(_ script: Script) { self.script = script }

    public mutating func next() -> TraceEvent? {
        while position == batch.events.count {
            if finished { return nil }
            batch.events.removeAll(keepingCapacity: true)
            position = 0
            finished = !script.refill(&batch)
        }
        position += 1
        return batch.events[position - 1]
    }
}

/// The events a script appends in one refill, with shorthands for the common ones.
public struct EventBatch {
    var events: [TraceEvent] = []

    mutating func append(_ event: TraceEvent) { events.append(event) }

    mutating func access(_ kind: AccessKind, _ pid: UInt32, _ address: UInt64, _ size: UInt32) {
        events.append(.access(Access(kind: kind, pid: pid, address: address, size: size)))
    }

    mutating func mmap(_ pid: UInt32, _ address: UInt64, _ length: UInt64, _ protection: Protection,
                       _ flags: MmapFlags = [], file: UInt32? = nil, offset: UInt64 = 0) {
        events.append(.mmap(Mapping(pid: pid, address: address, length: length, protection: protection,
                                    flags: flags, fileID: file, offset: offset)))
    }
}

/// `x` rounded up to a multiple of `unit`.
@inline(__always) func roundUp(_ x: UInt64, to unit: UInt64) -> UInt64 { (x + unit - 1) / unit * unit }

/// At least one page, page aligned.
@inline(__always) func wholePages(_ bytes: UInt64) -> UInt64 { roundUp(Swift.max(bytes, 1), to: tracePageSize) }

/// A probability held as a threshold out of 2^32: exact for 0 and 1, the same on every platform.
struct Chance: Sendable {
    private static let scale: UInt64 = 1 << 32
    let threshold: UInt64

    /// `fraction` is clamped to 0...1 (NaN counts as 0).
    init(_ fraction: Double) {
        let f = fraction.isNaN ? 0 : Swift.min(1, Swift.max(0, fraction))
        threshold = UInt64((f * Double(Self.scale)).rounded())
    }

    var isNever: Bool { threshold == 0 }

    /// One draw; draws nothing from `rng` when the outcome is certain.
    func happens(_ rng: inout Xoshiro256StarStar) -> Bool {
        if threshold == 0 { return false }
        if threshold >= Self.scale { return true }
        return rng.below(Self.scale) < threshold
    }

    /// `fraction` of `n`, rounded down.
    func of(_ n: UInt64) -> UInt64 {
        let product = n.multipliedFullWidth(by: threshold)
        return product.high << 32 | product.low >> 32
    }
}

extension Xoshiro256StarStar {
    /// Access sizes 1...8, mostly 4 and 8 as real code uses.
    mutating func accessSize() -> UInt32 {
        let u = below(100)
        if u < 10 { return 1 }
        if u < 20 { return 2 }
        if u < 45 { return 4 }
        if u < 85 { return 8 }
        return [3, 5, 6, 7][Int(below(4))]
    }

    /// A random address for an access of `size` bytes inside [base, base+length), aligned to the
    /// size when it is a power of two. `length` must be at least 8.
    mutating func spot(in base: UInt64, _ length: UInt64, size: UInt32) -> UInt64 {
        let s = UInt64(size)
        let offset = below(length - s + 1)
        return base + (s & (s - 1) == 0 ? offset & ~(s - 1) : offset)
    }

    /// A random 8-byte aligned word in [base, base+length) (length a multiple of 8).
    mutating func word(in base: UInt64, _ length: UInt64) -> UInt64 { base + below(length / 8) * 8 }

    /// An mmap address chosen the way ASLR would: `base` plus a random multiple of 2 MiB (keeps
    /// superpage alignment, which pmap_object_init_pt cares about).
    mutating func randomizedBase(_ base: UInt64, slots: UInt64 = 1024) -> UInt64 {
        base + below(slots) << 21
    }
}

/// Where workloads put things (all page aligned).
enum WorkloadLayout {
    /// Large anonymous and file mappings start here (plus a seeded 2 MiB-multiple offset).
    static let mmapBase: UInt64 = 0x8_0000_0000
    /// Shared libraries.
    static let libraryBase: UInt64 = 0x7f00_0000_0000
    /// The brk-style heap of the `heap` workload.
    static let heapBase: UInt64 = 0x1000_0000
}

/// An executable or shared object mapped from a file as exec(2) or the runtime linker does:
/// text (r-x) and initialized data (rw-) both private from the file, bss anonymous rw- after
/// them.
struct ImageLayout: Sendable {
    static let programBase: UInt64 = 0x40_0000

    let fileID: UInt32
    let path: String
    let base: UInt64
    let textSize: UInt64
    let dataSize: UInt64
    let bssSize: UInt64

    init(fileID: UInt32, path: String, base: UInt64 = programBase, text: UInt64, data: UInt64, bss: UInt64 = 0) {
        self.fileID = fileID
        self.path = path
        self.base = base
        textSize = wholePages(text)
        dataSize = wholePages(data)
        bssSize = bss == 0 ? 0 : wholePages(bss)
    }

    var dataBase: UInt64 { base + textSize }
    var bssBase: UInt64 { dataBase + dataSize }
    var end: UInt64 { bssBase + bssSize }

    /// The `file` event declaring the executable (text + data bytes).
    func declaration(resident: Bool) -> TraceEvent {
        .file(id: fileID, size: textSize + dataSize, resident: resident, path: TracePath(path))
    }

    func map(_ pid: UInt32, _ out: inout EventBatch) {
        out.mmap(pid, base, textSize, [.read, .execute], file: fileID)
        out.mmap(pid, dataBase, dataSize, [.read, .write], file: fileID, offset: textSize)
        if bssSize > 0 { out.mmap(pid, bssBase, bssSize, [.read, .write]) }
    }

    /// `count` instruction fetches (1 to 8 bytes each) running on from text offset `offset`,
    /// wrapping to the start of the text rather than leaving it.
    func fetch(_ pid: UInt32, at offset: UInt64, count: Int, _ rng: inout Xoshiro256StarStar,
               _ out: inout EventBatch) {
        var a = base + offset % textSize
        for _ in 0..<count {
            let size = UInt32(1 + rng.below(8))
            if a + UInt64(size) > base + textSize { a = base }
            out.access(.execute, pid, a, size)
            a += UInt64(size)
        }
    }

    /// A random text offset (a "function" to fetch from).
    func randomFunction(_ rng: inout Xoshiro256StarStar) -> UInt64 { rng.below(textSize / 16) * 16 }
}

/// The process stack as exec(2) sets it up: a `stack` reservation (vm_map_stack) ending at the
/// top of user space, of which the kernel maps the top 128 KiB and grows the rest on demand.
struct StackLayout: Sendable {
    /// USRSTACK on pc64.
    static let top: UInt64 = 0x8000_0000_0000
    let size: UInt64

    init(size: UInt64 = 8 << 20) { self.size = wholePages(size) }

    var base: UInt64 { Self.top - size }
    /// The stack pointer when main() starts: the top page holds argv, envp and the aux vector.
    var initialSP: UInt64 { Self.top - tracePageSize }

    func map(_ pid: UInt32, _ out: inout EventBatch) {
        out.mmap(pid, base, size, [.read, .write], [.stack])
    }

    /// execve's copyout of the argument and environment strings into the top page.
    func copyArguments(_ pid: UInt32, words: Int, _ out: inout EventBatch) {
        for i in 0..<words { out.access(.kernelWrite, pid, initialSP + UInt64(i) * 8, 8) }
    }

    /// `count` pushes (8-byte writes) below `sp`, then as many pops (reads) back up.
    func pushPop(_ pid: UInt32, sp: UInt64, count: Int, _ out: inout EventBatch) {
        for i in 1...Swift.max(1, count) { out.access(.write, pid, sp - UInt64(i) * 8, 8) }
        for i in (1...Swift.max(1, count)).reversed() { out.access(.read, pid, sp - UInt64(i) * 8, 8) }
    }
}

/// One freshly exec'd process running a static program: `proc`, its image and stack mapped,
/// and the first touches of crt0 (argument copyout, entry code, data, bss, a few pushes).
struct ProgramStart: Sendable {
    let pid: UInt32
    let image: ImageLayout
    let stack: StackLayout

    /// Declares the executable (resident in the page cache) and starts the process.
    func begin(_ rng: inout Xoshiro256StarStar, _ out: inout EventBatch) {
        out.append(image.declaration(resident: true))
        out.append(.proc(pid: pid, threads: 1))
        mapAndStart(&rng, &out)
    }

    /// Maps image and stack (after `proc` or `exec`) and runs crt0.
    func mapAndStart(_ rng: inout Xoshiro256StarStar, _ out: inout EventBatch) {
        image.map(pid, &out)
        stack.map(pid, &out)
        stack.copyArguments(pid, words: 2 + Int(rng.below(4)), &out)
        image.fetch(pid, at: 0, count: 6, &rng, &out)
        out.access(.read, pid, rng.word(in: image.dataBase, image.dataSize), 8)
        out.access(.write, pid, rng.word(in: image.dataBase, image.dataSize), 8)
        if image.bssSize > 0 { out.access(.write, pid, rng.word(in: image.bssBase, image.bssSize), 8) }
        stack.pushPop(pid, sp: stack.initialSP, count: 2, &out)
    }
}
