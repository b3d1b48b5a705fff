// A seeded, deterministic synthetic trace with realistic locality: a few processes with code,
// data, heap, stack, shared-file and library mappings, a fork or two, and accesses that are
// mostly sequential or strided runs plus a drifting hot working set. The same parameters give
// the same events on every machine (own PRNG, integer arithmetic only).
import VMTrace

/// SplitMix64 (Steele, Lea, Flood 2014): seeds other generators.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    public var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// xoshiro256** (Blackman, Vigna 2018), seeded through SplitMix64.
public struct Xoshiro256StarStar: RandomNumberGenerator, Sendable {
    private var s0, s1, s2, s3: UInt64

    public init(seed: UInt64) {
        var sm = SplitMix64(seed: seed)
        s0 = sm.next()
        s1 = sm.next()
        s2 = sm.next()
        s3 = sm.next()
    }

    public mutating func next() -> UInt64 {
        let result = ((s1 &* 5) << 7 | (s1 &* 5) >> 57) &* 9
        let t = s1 << 17
        s2 ^= s0
        s3 ^= s1
        s1 ^= s2
        s0 ^= s3
        s2 ^= t
        s3 = s3 << 45 | s3 >> 19
        return result
    }

    /// Uniform in 0..<n (Lemire's multiply-shift; n > 0), the same on every platform.
    @inline(__always)
    public mutating func below(_ n: UInt64) -> UInt64 {
        next().multipliedFullWidth(by: n).high
    }

    /// True with probability `percent`/100.
    @inline(__always)
    public mutating func percent(_ percent: UInt64) -> Bool { below(100) < percent }
}

/// The synthetic workload: iterate it (lazily, constant memory) or `write(to:)` a writer.
public struct SyntheticWorkload: TraceWorkload, Sendable {
    /// Access events to produce (other events come on top).
    public var accesses: Int
    public var seed: UInt64
    /// Processes at the start (1...8).
    public var processes: Int
    /// Forks during the run (0...4).
    public var forks: Int

    public init(accesses: Int, seed: UInt64 = 1, processes: Int = 3, forks: Int = 2) {
        self.accesses = Swift.max(0, accesses)
        self.seed = seed
        self.processes = Swift.min(8, Swift.max(1, processes))
        self.forks = Swift.min(4, Swift.max(0, forks))
    }

    public func makeIterator() -> Iterator { Iterator(self) }

    // The address-space layout every process gets (all page aligned).
    static let textBase: UInt64 = 0x40_0000, textSize: UInt64 = 2 << 20
    static let dataBase: UInt64 = 0x60_0000, dataSize: UInt64 = 256 << 10
    static let heapBase: UInt64 = 0x1000_0000, heapSize: UInt64 = 64 << 20
    static let sharedBase: UInt64 = 0x7f00_0000_0000, sharedSize: UInt64 = 16 << 20
    static let libBase: UInt64 = 0x7f10_0000_0000, libSize: UInt64 = 1 << 20
    static let stackBase: UInt64 = 0x7fff_fe00_0000, stackSize: UInt64 = 8 << 20
    static var stackTop: UInt64 { stackBase + stackSize }

    public struct Iterator: IteratorProtocol {
        private enum Milestone { case fork, madvise, dropCaches, threads }

        private enum Mode {
            /// Fixed stride and size from `address`.
            case strided
            /// Random spots in the hot pages.
            case hot
            /// Instruction fetches: each follows the previous one (variable length).
            case code
            /// Alternating reads of `address` and writes of `second` (memcpy).
            case copy
        }

        private struct Process {
            var pid: UInt32
            var hotPages: [UInt64]
        }

        private struct Run {
            var process = 0
            var mode = Mode.strided
            var kind = AccessKind.read
            var address: UInt64 = 0
            var second: UInt64 = 0
            var stride: UInt64 = 0
            var size: UInt32 = 1
            var remaining = 0
            var toggle = false
        }

        private let workload: SyntheticWorkload
        private var rng: Xoshiro256StarStar
        private var procs: [Process] = []
        private var queue: [TraceEvent] = []
        private var queued = 0
        private var emitted = 0
        private var runsStarted = 0
        /// (access index, what): forks, then madvise, drop_caches and a thread-count change.
        private var milestones: [(at: Int, what: Milestone)] = []
        private var milestone = 0
        private var started = false
        private var ended = false
        private var nextChild: UInt32 = 100
        private var run = Run()

        init(_ w: SyntheticWorkload) {
            workload = w
            rng = Xoshiro256StarStar(seed: w.seed)
            // Forks, then madvise, drop_caches and a thread-count change at fixed fractions.
            let n = w.accesses
            for i in 0..<w.forks { milestones.append((n * (1 + 2 * i) / (2 * w.forks + 1), .fork)) }
            milestones += [(n / 2, .madvise), (n * 7 / 10, .dropCaches), (n * 8 / 10, .threads)]
            milestones.sort { $0.at < $1.at }
        }

        public mutating func next() -> TraceEvent? {
            while true {
                if queued < queue.count {
                    queued += 1
                    return queue[queued - 1]
                }
                queue.removeAll(keepingCapacity: true)
                queued = 0
                if !started {
                    started = true
                    preamble()
                    continue
                }
                if milestone < milestones.count && milestones[milestone].at <= emitted {
                    milestoneEvents(milestones[milestone].what)
                    milestone += 1
                    continue
                }
                if emitted >= workload.accesses {
                    guard !ended else { return nil }
                    ended = true
                    for p in procs.reversed() { queue.append(.exit(pid: p.pid)) }
                    continue
                }
                if run.remaining == 0 { startRun() }
                emitted += 1
                return .access(step())
            }
        }

        private mutating func preamble() {
            typealias W = SyntheticWorkload
            queue.append(.file(id: 1, size: W.textSize + W.dataSize, resident: true, path: "/usr/local/bin/app"))
            queue.append(.file(id: 2, size: W.sharedSize, resident: false, path: "/var/db/app data.db"))
            queue.append(.file(id: 3, size: W.libSize, resident: true, path: "/lib/libc.so.8"))
            for i in 0..<workload.processes {
                let pid = UInt32(i + 1)
                queue.append(.proc(pid: pid, threads: i == 0 ? 2 : 1))
                let maps = [
                    Mapping(pid: pid, address: W.textBase, length: W.textSize, protection: [.read, .execute], fileID: 1),
                    Mapping(pid: pid, address: W.dataBase, length: W.dataSize, protection: [.read, .write],
                            fileID: 1, offset: W.textSize),
                    Mapping(pid: pid, address: W.heapBase, length: W.heapSize, protection: [.read, .write]),
                    Mapping(pid: pid, address: W.sharedBase, length: W.sharedSize, protection: [.read, .write],
                            flags: [.shared], fileID: 2),
                    Mapping(pid: pid, address: W.libBase, length: W.libSize, protection: [.read, .execute], fileID: 3),
                    Mapping(pid: pid, address: W.stackBase, length: W.stackSize, protection: [.read, .write],
                            flags: [.stack]),
                ]
                for m in maps { queue.append(.mmap(m)) }
                procs.append(Process(pid: pid, hotPages: []))
                for _ in 0..<64 { procs[i].hotPages.append(randomHotPage()) }
            }
        }

        private mutating func randomHotPage() -> UInt64 {
            typealias W = SyntheticWorkload
            switch rng.below(8) {
            case 0: return W.dataBase + rng.below(W.dataSize / tracePageSize) * tracePageSize
            case 1: return W.stackTop - (1 + rng.below(16)) * tracePageSize
            default: return W.heapBase + rng.below(4096) * tracePageSize  // the first 16 MiB
            }
        }

        private mutating func milestoneEvents(_ what: Milestone) {
            switch what {
            case .fork:
                let parent = procs[Int(rng.below(UInt64(procs.count)))]
                let child = nextChild
                nextChild += 1
                queue.append(.fork(parent: parent.pid, child: child))
                procs.append(Process(pid: child, hotPages: parent.hotPages))
            case .madvise:
                queue.append(.madvise(pid: procs[0].pid, address: SyntheticWorkload.heapBase + (32 << 20),
                                      length: 1 << 20, advice: .dontneed))
            case .dropCaches:
                queue.append(.dropCaches)
            case .threads:
                queue.append(.threads(pid: procs[0].pid, count: 4))
            }
        }

        private mutating func startRun() {
            typealias W = SyntheticWorkload
            runsStarted += 1
            if rng.below(8) == 0 { run.process = Int(rng.below(UInt64(procs.count))) }
            // Let the hot set drift.
            if runsStarted % 512 == 0 {
                let p = run.process
                procs[p].hotPages[Int(rng.below(UInt64(procs[p].hotPages.count)))] = randomHotPage()
            }
            let u = rng.below(1000)
            run.toggle = false
            if u < 380 {
                // Sequential or strided pass over heap data.
                run.mode = .strided
                run.kind = rng.percent(60) ? .read : .write
                run.size = [1, 2, 4, 8, 8, 8][Int(rng.below(6))]
                run.stride = rng.percent(70) ? UInt64(run.size) : 64
                run.address = W.heapBase + rng.below(16 << 20) & ~UInt64(run.size - 1)
                run.remaining = 8 + Int(rng.below(249))
            } else if u < 680 {
                run.mode = .hot
                run.remaining = 16 + Int(rng.below(113))
            } else if u < 830 {
                run.mode = .code
                run.kind = .execute
                let codeBase = rng.percent(80) ? W.textBase : W.libBase
                run.address = codeBase + rng.below(512 << 10)
                run.remaining = 4 + Int(rng.below(29))
            } else if u < 930 {
                // Stack: pushes and pops of 8-byte words near the top.
                run.mode = .strided
                run.kind = rng.percent(50) ? .read : .write
                run.size = 8
                run.stride = rng.percent(50) ? 8 : 0 &- 8
                run.address = W.stackTop - 4096 - rng.below(60 << 10) & ~7
                run.remaining = 4 + Int(rng.below(29))
            } else if u < 960 {
                // Reading through the shared data file.
                run.mode = .strided
                run.kind = .read
                run.size = 8
                run.stride = rng.percent(50) ? 8 : 64
                run.address = W.sharedBase + rng.below(W.sharedSize - (64 << 10)) & ~7
                run.remaining = 64 + Int(rng.below(449))
            } else if u < 980 {
                run.mode = .copy
                run.kind = .read
                run.size = 8
                run.stride = 8
                run.address = W.heapBase + rng.below(8 << 20) & ~7
                run.second = W.heapBase + (8 << 20) + rng.below(8 << 20) & ~7
                run.remaining = 16 + Int(rng.below(241))
            } else if u < 999 {
                // copyin/copyout of a buffer by a system call.
                run.mode = .strided
                run.kind = rng.percent(50) ? .kernelRead : .kernelWrite
                run.size = 8
                run.stride = 8
                run.address = W.heapBase + rng.below(16 << 20) & ~7
                run.remaining = 8 + Int(rng.below(57))
            } else {
                // A debugger pokes at another process's heap.
                run.mode = .strided
                run.kind = rng.percent(50) ? .peek : .poke
                run.size = 1
                run.stride = 0
                run.address = procs[Int(rng.below(UInt64(procs.count)))].hotPages[0] + rng.below(4096)
                run.remaining = 1
            }
        }

        private mutating func step() -> Access {
            run.remaining -= 1
            let pid = procs[run.process].pid
            switch run.mode {
            case .strided:
                let a = Access(kind: run.kind, pid: pid, address: run.address, size: run.size)
                run.address &+= run.stride
                return a
            case .hot:
                let pages = procs[run.process].hotPages
                // Skewed: the first pages of the set are the hottest.
                let i = Int(Swift.min(rng.below(UInt64(pages.count)), rng.below(UInt64(pages.count))))
                let size = rng.accessSize()
                let offset = rng.below(4096 - UInt64(size) + 1)
                let aligned = size & (size - 1) == 0 ? offset & ~UInt64(size - 1) : offset
                let kind: AccessKind = rng.percent(65) ? .read : .write
                return Access(kind: kind, pid: pid, address: pages[i] + aligned, size: size)
            case .code:
                let size = UInt32(1 + rng.below(8))
                let a = Access(kind: .execute, pid: pid, address: run.address, size: size)
                run.address += UInt64(size)
                return a
            case .copy:
                run.toggle.toggle()
                if run.toggle {
                    return Access(kind: .read, pid: pid, address: run.address, size: run.size)
                }
                let a = Access(kind: .write, pid: pid, address: run.second, size: run.size)
                run.address += run.stride
                run.second += run.stride
                return a
            }
        }
    }
}
