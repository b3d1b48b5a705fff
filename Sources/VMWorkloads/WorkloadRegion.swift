// The engine of the single-region workloads (seq-anon, random-anon, file-scan): one process maps
// one region, anonymous or from a file, touches it in sequential passes or at random spots from a
// small loop in its text, then unmaps it and exits.
import VMTrace

/// One process, one region, one access pattern.
public struct RegionScript: WorkloadScript {
    enum Order {
        /// Passes over the region, one touch every `stride` bytes.
        case sequential(stride: UInt64, passes: Int)
        /// `touches` touches at uniformly random spots.
        case random(touches: Int)
    }

    private enum Phase { case start, touch, end, done }

    /// Touches per refill.
    private static let batch = 1024

    private let program: ProgramStart
    private let fileDeclaration: TraceEvent?
    private let region: Mapping
    private let advice: Advice?
    private let order: Order
    private let write: Chance
    private var rng: Xoshiro256StarStar
    private var phase = Phase.start
    /// Text offset of the loop doing the touches.
    private var loop: UInt64 = 0
    private var pass = 0
    private var offset: UInt64 = 0
    private var touched = 0
    private var lastPage = UInt64.max

    /// `region.pid` must be `program.pid`; `file` declares the region's file, if any.
    init(program: ProgramStart, file: TraceEvent? = nil, region: Mapping, advice: Advice? = nil,
         order: Order, writeFraction: Double, rng: Xoshiro256StarStar) {
        self.program = program
        fileDeclaration = file
        self.region = region
        self.advice = advice
        self.order = order
        write = Chance(writeFraction)
        self.rng = rng
    }

    /// The size of each sequential touch: the largest power of two up to 8 dividing the stride,
    /// so touches stay aligned and inside the region.
    static func touchSize(stride: UInt64) -> UInt32 {
        UInt32(Swift.min(8, stride & (0 &- stride)))
    }

    public mutating func refill(_ out: inout EventBatch) -> Bool {
        let pid = program.pid
        switch phase {
        case .start:
            if let f = fileDeclaration { out.append(f) }
            program.begin(&rng, &out)
            loop = program.image.randomFunction(&rng)
            out.append(.mmap(region))
            if let advice {
                out.append(.madvise(pid: pid, address: region.address, length: region.length, advice: advice))
            }
            phase = .touch
            if case .sequential(_, let passes) = order, passes == 0 { phase = .end }
            if case .random(let touches) = order, touches == 0 { phase = .end }
        case .touch:
            switch order {
            case .sequential(let stride, let passes): sequential(stride, passes, &out)
            case .random(let touches): random(touches, &out)
            }
        case .end:
            out.append(.munmap(pid: pid, address: region.address, length: region.length))
            out.append(.exit(pid: pid))
            phase = .done
        case .done:
            return false
        }
        return true
    }

    private mutating func kind() -> AccessKind { write.happens(&rng) ? .write : .read }

    private mutating func sequential(_ stride: UInt64, _ passes: Int, _ out: inout EventBatch) {
        let pid = program.pid
        let size = Self.touchSize(stride: stride)
        for _ in 0..<Self.batch {
            let page = offset / tracePageSize
            if page != lastPage {
                // The loop's body, once a page (the rest of its fetches hit the same lines).
                program.image.fetch(pid, at: loop, count: 2, &rng, &out)
                lastPage = page
            }
            out.access(kind(), pid, region.address + offset, size)
            offset += stride
            if offset >= region.length {
                offset = 0
                lastPage = .max
                pass += 1
                if pass == passes {
                    phase = .end
                    return
                }
            }
        }
    }

    private mutating func random(_ touches: Int, _ out: inout EventBatch) {
        let pid = program.pid
        for _ in 0..<Self.batch {
            if touched % 8 == 0 { program.image.fetch(pid, at: loop, count: 2, &rng, &out) }
            let size = rng.accessSize()
            let kind = kind()
            out.access(kind, pid, rng.spot(in: region.address, region.length, size: size), size)
            touched += 1
            if touched == touches {
                phase = .end
                return
            }
        }
    }
}

extension ProgramStart {
    /// A small static program, pid 1, for the single-process workloads.
    static func small(_ path: String, stack: UInt64 = 8 << 20) -> ProgramStart {
        ProgramStart(pid: 1, image: ImageLayout(fileID: 1, path: path, text: 96 << 10, data: 8 << 10, bss: 16 << 10),
                     stack: StackLayout(size: stack))
    }
}
