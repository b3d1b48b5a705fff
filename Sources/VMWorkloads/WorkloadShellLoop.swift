// `vmreplay gen shell-loop`: `while :; do prog; done` — a shell forking children that exec.
import VMTrace

/// A dynamically linked shell (pid 1) runs a loop: each iteration it parses a command, forks,
/// and the child (pid 2, 3, ...) dirties a little of the shell's stack and data (copy-on-write)
/// before exec'ing a small program. The kernel copies out the arguments onto the new stack;
/// the program's text is mapped private r-x and its data private rw- from its file (cold the
/// first time, then in the page cache), with bss and a grow-down stack; the runtime linker maps
/// libc (text shared by every process through the page cache, data copied on write) and fixes
/// up its data. The program fetches code from a few of its text pages, reads and writes its
/// data, bss and stack, writes to standard output (copyin) and exits; the shell waits, and
/// goes round again.
public struct ShellLoopWorkload: TraceWorkload, Sendable {
    public var iterations: Int
    /// Bytes of the exec'd program's file: three quarters text, the rest data.
    public var programSize: UInt64
    public var seed: UInt64

    public init(iterations: Int = 1000, programSize: UInt64 = 256 << 10, seed: UInt64 = 1) {
        self.iterations = Swift.max(0, iterations)
        self.programSize = Swift.max(wholePages(programSize), 2 * tracePageSize)
        self.seed = seed
    }

    public func makeIterator() -> WorkloadIterator<ShellLoopScript> { WorkloadIterator(ShellLoopScript(self)) }

    /// The program's text and data sizes.
    var programText: UInt64 { Swift.max(tracePageSize, programSize / 4 * 3 / tracePageSize * tracePageSize) }
    var programData: UInt64 { programSize - programText }
}

public struct ShellLoopScript: WorkloadScript {
    private let w: ShellLoopWorkload
    private let shell: ProgramStart
    private let program: ImageLayout
    private let libc: ImageLayout
    private let stack = StackLayout()
    private var rng: Xoshiro256StarStar
    private var iteration = 0
    private var started = false
    private var ended = false
    /// Text offsets of the shell's parser, its fork/wait code, and libc's syscall stubs.
    private var parser: UInt64 = 0
    private var jobs: UInt64 = 0
    private var stubs: UInt64 = 0

    init(_ w: ShellLoopWorkload) {
        self.w = w
        rng = Xoshiro256StarStar(seed: w.seed)
        shell = ProgramStart(pid: 1, image: ImageLayout(fileID: 1, path: "/bin/sh", text: 192 << 10, data: 16 << 10,
                                                        bss: 16 << 10),
                             stack: stack)
        libc = ImageLayout(fileID: 2, path: "/lib/libc.so.8", base: rng.randomizedBase(WorkloadLayout.libraryBase),
                           text: 1 << 20, data: 64 << 10, bss: 32 << 10)
        program = ImageLayout(fileID: 3, path: "/usr/local/bin/prog", text: w.programText, data: w.programData,
                              bss: 8 << 10)
    }

    public mutating func refill(_ out: inout EventBatch) -> Bool {
        if !started {
            started = true
            out.append(libc.declaration(resident: true))
            out.append(program.declaration(resident: false))
            shell.begin(&rng, &out)
            libc.map(shell.pid, &out)
            parser = shell.image.randomFunction(&rng)
            jobs = shell.image.randomFunction(&rng)
            stubs = libc.randomFunction(&rng)
            return true
        }
        guard iteration < w.iterations else {
            guard !ended else { return false }
            ended = true
            out.append(.exit(pid: shell.pid))
            return true
        }
        iteration += 1
        oneCommand(child: UInt32(1 + iteration), &out)
        return true
    }

    /// A random word of an image's data (and bss).
    private mutating func dataWord(_ image: ImageLayout) -> UInt64 {
        rng.word(in: image.dataBase, image.end - image.dataBase)
    }

    private mutating func oneCommand(child: UInt32, _ out: inout EventBatch) {
        let sh = shell.pid
        let image = shell.image
        // The shell reads and parses the next command, then forks.
        image.fetch(sh, at: parser + rng.below(64) * 16, count: 12, &rng, &out)
        for _ in 0..<3 { out.access(.read, sh, dataWord(image), 8) }
        out.access(.write, sh, rng.word(in: image.bssBase, image.bssSize), 8)
        stack.pushPop(sh, sp: stack.initialSP, count: 2, &out)
        libc.fetch(sh, at: stubs, count: 4, &rng, &out)
        out.append(.fork(parent: sh, child: child))

        // The child sets up redirections in the shell's image, then execs.
        stack.pushPop(child, sp: stack.initialSP - 256, count: 2, &out)
        out.access(.read, child, dataWord(image), 8)
        out.access(.write, child, rng.word(in: image.bssBase, image.bssSize), 8)
        image.fetch(child, at: jobs, count: 6, &rng, &out)
        libc.fetch(child, at: stubs + 64, count: 3, &rng, &out)
        out.append(.exec(pid: child))
        program.map(child, &out)
        stack.map(child, &out)
        stack.copyArguments(child, words: 3 + Int(rng.below(6)), &out)
        runProgram(child, &out)
        out.append(.exit(pid: child))

        // wait4() returns in the shell.
        libc.fetch(sh, at: stubs + 128, count: 3, &rng, &out)
        stack.pushPop(sh, sp: stack.initialSP, count: 1, &out)
        out.access(.write, sh, rng.word(in: image.bssBase, image.bssSize), 8)
        image.fetch(sh, at: jobs + 256, count: 4, &rng, &out)
    }

    /// The runtime linker maps libc and relocates, then main() runs a little.
    private mutating func runProgram(_ pid: UInt32, _ out: inout EventBatch) {
        program.fetch(pid, at: 0, count: 4, &rng, &out)
        libc.map(pid, &out)
        libc.fetch(pid, at: 0, count: 8, &rng, &out)
        for _ in 0..<4 { out.access(.read, pid, rng.word(in: libc.dataBase, libc.dataSize), 8) }
        for _ in 0..<2 { out.access(.write, pid, rng.word(in: libc.dataBase, libc.dataSize), 8) }
        out.access(.write, pid, rng.word(in: program.dataBase, program.dataSize), 8)
        // main(): code from a few text pages, data, bss, stack.
        let textPages = program.textSize / tracePageSize
        for _ in 0..<(1 + Int(rng.below(Swift.min(8, textPages)))) {
            let page = rng.below(textPages)
            program.fetch(pid, at: page * tracePageSize + rng.below(256) * 8, count: 4 + Int(rng.below(9)), &rng, &out)
            out.access(.read, pid, dataWord(program), 8)
            if rng.percent(50) { out.access(.write, pid, dataWord(program), 8) }
            stack.pushPop(pid, sp: stack.initialSP - rng.below(64) * 16, count: 2, &out)
        }
        // printf → write(2): libc formats into its buffer, the kernel copies it in.
        libc.fetch(pid, at: stubs + 192, count: 6, &rng, &out)
        let buffer = rng.word(in: libc.bssBase, libc.bssSize - 64)
        for i in 0..<UInt64(2) { out.access(.write, pid, buffer + i * 8, 8) }
        for i in 0..<UInt64(2) { out.access(.kernelRead, pid, buffer + i * 8, 8) }
    }
}
