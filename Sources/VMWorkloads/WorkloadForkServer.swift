// `vmreplay gen fork-server`: a pre-forking server whose workers write into the inherited heap.
import VMTrace

/// A server (pid 1) builds a heap of `heapSize` bytes (one anonymous mapping, every page
/// written), then forks `workers` workers. The workers run interleaved, a request at a time:
/// the kernel copies the request into a bss buffer (copyout), the worker runs handler code,
/// pushes and pops on its stack, reads words all over the heap it shares copy-on-write with the
/// server and its siblings, writes into its own part of the heap (`writeFraction` of the pages,
/// a window that depends on its slot, so copy-on-write faults dominate), and the kernel copies
/// the reply out of the heap (copyin). A worker exits after `requests` requests; with
/// probability `earlyExit` it exits earlier (after 10 to 60% of them) and the server, after
/// reaping it, forks a replacement that serves the rest. The server exits last.
public struct ForkServerWorkload: TraceWorkload, Sendable {
    public var workers: Int
    /// Bytes of heap (whole pages).
    public var heapSize: UInt64
    public var writeFraction: Double
    /// Requests each worker slot serves.
    public var requests: Int
    public var earlyExit: Double
    public var seed: UInt64

    public init(workers: Int = 8, heapSize: UInt64 = 32 << 20, writeFraction: Double = 0.25,
                requests: Int = 1000, earlyExit: Double = 0.25, seed: UInt64 = 1) {
        self.workers = Swift.max(1, workers)
        self.heapSize = wholePages(heapSize)
        self.writeFraction = writeFraction
        self.requests = Swift.max(0, requests)
        self.earlyExit = earlyExit
        self.seed = seed
    }

    public func makeIterator() -> WorkloadIterator<ForkServerScript> { WorkloadIterator(ForkServerScript(self)) }
}

public struct ForkServerScript: WorkloadScript {
    private struct Slot {
        var pid: UInt32 = 0
        /// Requests the slot still has to serve, and how many the current worker serves
        /// before it exits.
        var remaining: Int
        var untilExit: Int = 0
        var windowStart: UInt64
        var alive = false
    }

    private enum Phase { case start, populate, fork, serve, end, done }

    private let w: ForkServerWorkload
    private let server = ProgramStart(pid: 1, image: ImageLayout(fileID: 1, path: "/usr/local/sbin/httpd",
                                                                 text: 1 << 20, data: 64 << 10, bss: 128 << 10),
                                      stack: StackLayout())
    private let heapBase: UInt64
    private let heapPages: UInt64
    private let windowPages: UInt64
    private let earlyExit: Chance
    private var rng: Xoshiro256StarStar
    private var phase = Phase.start
    private var populated: UInt64 = 0
    private var slots: [Slot] = []
    private var turn = 0
    private var nextPid: UInt32 = 2
    private var handlers: [UInt64] = []

    init(_ w: ForkServerWorkload) {
        self.w = w
        rng = Xoshiro256StarStar(seed: w.seed)
        heapBase = rng.randomizedBase(WorkloadLayout.mmapBase)
        heapPages = w.heapSize / tracePageSize
        windowPages = Chance(w.writeFraction).of(heapPages)
        earlyExit = Chance(w.earlyExit)
    }

    public mutating func refill(_ out: inout EventBatch) -> Bool {
        let pid = server.pid
        switch phase {
        case .start:
            server.begin(&rng, &out)
            out.mmap(pid, heapBase, w.heapSize, [.read, .write])
            for _ in 0..<16 { handlers.append(server.image.randomFunction(&rng)) }
            phase = .populate
        case .populate:
            // Building the heap: every page written, 256 pages a batch.
            let loader = handlers[0]
            for _ in 0..<256 where populated < heapPages {
                if populated % 64 == 0 { server.image.fetch(pid, at: loader, count: 4, &rng, &out) }
                let page = heapBase + populated * tracePageSize
                out.access(.write, pid, page, 8)
                out.access(.write, pid, rng.word(in: page, tracePageSize), 8)
                populated += 1
            }
            if populated == heapPages { phase = .fork }
        case .fork:
            for i in 0..<w.workers {
                slots.append(Slot(remaining: w.requests, windowStart: UInt64(i) * heapPages / UInt64(w.workers)))
                spawn(i, &out)
            }
            phase = .serve
        case .serve:
            serveOne(&out)
        case .end:
            // Workers with nothing to do (no requests) exit before the server.
            for slot in slots where slot.alive { out.append(.exit(pid: slot.pid)) }
            out.append(.exit(pid: pid))
            phase = .done
        case .done:
            return false
        }
        return true
    }

    /// Forks a worker for slot `i`; it decides now whether it will exit early.
    private mutating func spawn(_ i: Int, _ out: inout EventBatch) {
        let pid = nextPid
        nextPid += 1
        slots[i].pid = pid
        slots[i].alive = true
        slots[i].untilExit = slots[i].remaining
        if slots[i].remaining > 1 && earlyExit.happens(&rng) {
            let share = 10 + Int(rng.below(51))
            slots[i].untilExit = Swift.max(1, slots[i].remaining * share / 100)
        }
        server.image.fetch(server.pid, at: handlers[1], count: 6, &rng, &out)
        out.append(.fork(parent: server.pid, child: pid))
        // The worker's start: its own stack frames, a title in data, counters in bss.
        server.stack.pushPop(pid, sp: server.stack.initialSP, count: 3, &out)
        out.access(.write, pid, rng.word(in: server.image.dataBase, server.image.dataSize), 8)
        out.access(.write, pid, rng.word(in: server.image.bssBase, server.image.bssSize), 8)
    }

    private mutating func serveOne(_ out: inout EventBatch) {
        guard let i = nextActive() else {
            phase = .end
            return
        }
        request(slots[i].pid, windowStart: slots[i].windowStart, &out)
        slots[i].remaining -= 1
        slots[i].untilExit -= 1
        if slots[i].untilExit == 0 {
            out.append(.exit(pid: slots[i].pid))
            slots[i].alive = false
            // The server reaps it (wait4) and, if the slot has work left, forks a replacement.
            server.image.fetch(server.pid, at: handlers[2], count: 4, &rng, &out)
            server.stack.pushPop(server.pid, sp: server.stack.initialSP, count: 1, &out)
            out.access(.write, server.pid, rng.word(in: server.image.bssBase, server.image.bssSize), 8)
            if slots[i].remaining > 0 { spawn(i, &out) }
        }
    }

    /// The next slot with work, round-robin.
    private mutating func nextActive() -> Int? {
        for k in 0..<slots.count {
            let i = (turn + k) % slots.count
            if slots[i].remaining > 0 {
                turn = i + 1
                return i
            }
        }
        return nil
    }

    private mutating func request(_ pid: UInt32, windowStart: UInt64, _ out: inout EventBatch) {
        let image = server.image
        // read(2) into the request buffer at the start of bss.
        for k in 0..<UInt64(2) { out.access(.kernelWrite, pid, image.bssBase + k * 8, 8) }
        image.fetch(pid, at: handlers[2 + Int(rng.below(14))], count: 8, &rng, &out)
        server.stack.pushPop(pid, sp: server.stack.initialSP - rng.below(32) * 16, count: 3, &out)
        for _ in 0..<12 {
            let size = rng.accessSize()
            out.access(.read, pid, rng.spot(in: heapBase, w.heapSize, size: size), size)
        }
        var reply = rng.word(in: heapBase, w.heapSize)
        for _ in 0..<(windowPages > 0 ? 4 : 0) {
            let page = (windowStart + rng.below(windowPages)) % heapPages
            reply = rng.word(in: heapBase + page * tracePageSize, tracePageSize)
            out.access(.write, pid, reply, 8)
        }
        // write(2) of the reply from the heap.
        for _ in 0..<2 { out.access(.kernelRead, pid, reply, 8) }
    }
}
