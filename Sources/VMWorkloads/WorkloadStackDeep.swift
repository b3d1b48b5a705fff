// `vmreplay gen stack-deep`: a deep recursion down a grow-down stack.
import VMTrace

/// A process's main thread recurses `depth` calls deep, `recursions` times. Each call fetches
/// the call and the prologue, pushes the return address and frame pointer, reserves a frame of
/// about `frame` bytes (up to a quarter more, varying with the depth) and writes one to three
/// locals and reads an argument from its caller's frame; on the way back each frame reads a
/// local, pops and returns. The stack is a `stack` reservation under the top of user space of
/// which the kernel maps the top 128 KiB (kern.sgrowsiz); the descent reaches far below that,
/// so vm_map_growstack extends it as the recursion deepens (the first recursion only; later
/// ones find it grown). The reservation is 8 MiB, or more when the recursion needs it: a descent
/// past 8 MiB fails (SIGSEGV) at kern.dflssiz, RLIMIT_STACK, unless replayed with a larger one.
public struct StackDeepWorkload: TraceWorkload, Sendable {
    public var depth: Int
    /// Bytes of locals a call reserves (rounded up to 16).
    public var frame: UInt64
    public var recursions: Int
    public var seed: UInt64

    public init(depth: Int = 10_000, frame: UInt64 = 256, recursions: Int = 2, seed: UInt64 = 1) {
        self.depth = Swift.max(0, depth)
        self.frame = roundUp(Swift.max(16, frame), to: 16)
        self.recursions = Swift.max(0, recursions)
        self.seed = seed
    }

    /// The largest frame a call reserves.
    var largestFrame: UInt64 { frame + frame / 64 * 16 }

    /// How far below main's frame the deepest call reaches at most (frames, return addresses,
    /// saved frame pointers).
    public var maxDescent: UInt64 { UInt64(depth) * (largestFrame + 16) }

    /// The stack reservation: 8 MiB, or whole MiB enough for the recursion.
    public var stackSize: UInt64 { Swift.max(8 << 20, roundUp(maxDescent + (64 << 10), to: 1 << 20)) }

    public func makeIterator() -> WorkloadIterator<StackDeepScript> { WorkloadIterator(StackDeepScript(self)) }
}

public struct StackDeepScript: WorkloadScript {
    private enum Phase { case start, main, descend, ascend, end, done }

    private let w: StackDeepWorkload
    private let program: ProgramStart
    private var rng: Xoshiro256StarStar
    private var phase = Phase.start
    /// Salt of the per-depth frame sizes (the same in every recursion).
    private var salt: UInt64 = 0
    /// Text offset of the recursive function.
    private var function: UInt64 = 0
    private var recursion = 0
    private var level = 0
    private var sp: UInt64 = 0

    init(_ w: StackDeepWorkload) {
        self.w = w
        rng = Xoshiro256StarStar(seed: w.seed)
        program = .small("/usr/local/bin/recurse", stack: w.stackSize)
    }

    /// The frame size and a few bits for the locals of the call at `level`.
    private func frame(at level: Int) -> (size: UInt64, bits: UInt64) {
        var h = SplitMix64(seed: salt ^ UInt64(level))
        let bits = h.next()
        return (w.frame + bits % (w.frame / 64 + 1) * 16, bits >> 16)
    }

    private func fetch(_ offset: UInt64, _ size: UInt32, _ out: inout EventBatch) {
        out.access(.execute, program.pid, program.image.base + function + offset, size)
    }

    public mutating func refill(_ out: inout EventBatch) -> Bool {
        let pid = program.pid
        switch phase {
        case .start:
            program.begin(&rng, &out)
            salt = rng.next()
            function = Swift.min(program.image.randomFunction(&rng), program.image.textSize - 64)
            phase = recursion < w.recursions ? .main : .end
        case .main:
            // main() between recursions: a little code and its own frame.
            program.image.fetch(pid, at: 0, count: 4, &rng, &out)
            sp = program.stack.initialSP - 64
            out.access(.write, pid, sp, 8)
            level = 0
            phase = w.depth > 0 ? .descend : .main
            if w.depth == 0 { nextRecursion() }
        case .descend:
            for _ in 0..<64 {
                call(&out)
                level += 1
                if level == w.depth {
                    phase = .ascend
                    break
                }
            }
        case .ascend:
            for _ in 0..<64 {
                level -= 1
                ret(&out)
                if level == 0 {
                    nextRecursion()
                    break
                }
            }
        case .end:
            out.append(.exit(pid: pid))
            phase = .done
        case .done:
            return false
        }
        return true
    }

    private mutating func nextRecursion() {
        recursion += 1
        phase = recursion < w.recursions ? .main : .end
    }

    private mutating func call(_ out: inout EventBatch) {
        let pid = program.pid
        let (size, bits) = frame(at: level)
        fetch(24, 5, &out)  // call
        sp -= 8
        out.access(.write, pid, sp, 8)  // return address
        fetch(0, 1, &out)  // push %rbp
        sp -= 8
        out.access(.write, pid, sp, 8)
        fetch(1, 3, &out)  // mov %rsp,%rbp
        fetch(4, 7, &out)  // sub $frame,%rsp
        sp -= size
        let words = size / 8
        for j in 0...(bits % 3) {
            out.access(.write, pid, sp + (bits >> 2 &+ j &* 7) % words * 8, 8)
        }
        out.access(.read, pid, sp + size + 16, 8)  // an argument in the caller's frame
    }

    private mutating func ret(_ out: inout EventBatch) {
        let pid = program.pid
        let (size, _) = frame(at: level)
        out.access(.read, pid, rng.word(in: sp, size), 8)  // the result in a local
        fetch(40, 1, &out)  // leave
        sp += size
        out.access(.read, pid, sp, 8)  // pop %rbp
        sp += 8
        fetch(41, 1, &out)  // ret
        out.access(.read, pid, sp, 8)
        sp += 8
        fetch(29, 3, &out)  // back in the caller
    }
}
