// `vmreplay gen WORKLOAD`: seeded synthetic traces, one subcommand a workload.

import ArgumentParser
import VMTrace
import VMWorkloads

struct Gen: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Generate a synthetic trace.",
        discussion: """
            Each workload models one kind of program and has knobs for its size; \
            `vmreplay gen WORKLOAD --help` says what it models and what each knob does. \
            Every workload is deterministic: the same knobs and --seed give the same trace on \
            every machine, and generation streams, so a 100M-access trace needs no more memory \
            than a small one.

            Sizes take binary K, M, G suffixes (64M = 64 MiB); counts take decimal K, M, G \
            suffixes (10M = 10,000,000). The output's name picks its format as for convert \
            (.vmt.gz: compressed binary; .txt: text; -: text on standard output).

            Examples:
              vmreplay gen fork-server --workers 8 --heap-size 32M -o fork.vmt.gz
              vmreplay gen seq-anon --size 1G --stride 4K --seed 3 -o fill.vmt.gz
              vmreplay gen synthetic --accesses 10M --seed 7 -o big.vmt.gz
              vmreplay gen shell-loop --iterations 20 -o - | less
            """,
        subcommands: [GenSynthetic.self, GenSeqAnon.self, GenRandomAnon.self, GenFileScan.self, GenHeap.self,
                      GenShellLoop.self, GenForkServer.self, GenStackDeep.self, GenVKernel.self]
    )
}

/// The options every workload shares: the seed and the output.
struct GenOutput: ParsableArguments {
    @Option(help: "Random seed: the same seed and knobs always give the same trace.")
    var seed: UInt64 = 1

    @Option(name: .shortAndLong, help: "The trace to write (- for text on standard output).")
    var output: String

    /// Writes every event of `workload` to the output (no file appears if anything fails).
    func write<W: TraceWorkload>(_ workload: W) throws {
        installOutputCleanupOnSignals()
        try runReportingErrors {
            let writer = try TraceWriter(path: output)
            do {
                try workload.write(to: writer)
                try writer.finish()
            } catch {
                writer.abandon()
                throw error
            }
        }
    }
}

/// Checks that a fraction knob lies in 0...1.
private func checkFraction(_ value: Double, _ name: String) throws {
    guard value >= 0 && value <= 1 else { throw ValidationError("\(name) must be between 0 and 1") }
}

/// Checks that a size knob is at least `minimum` bytes.
private func checkSize(_ value: ByteSize, _ name: String, atLeast minimum: UInt64 = 1) throws {
    guard value.bytes >= minimum else { throw ValidationError("\(name) must be at least \(minimum) bytes") }
}

struct GenSynthetic: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "synthetic",
        abstract: "A mix of processes with realistic locality.",
        discussion: """
            A few processes with code, data, heap, stack, library and shared-file mappings, a \
            fork or two, an madvise, a drop_caches and a thread-count change, and accesses that \
            are mostly sequential or strided runs plus a drifting hot working set: reads, \
            writes and instruction fetches of 1 to 8 bytes, some copyin/copyout and a debugger's \
            peek or poke.

            Examples:
              vmreplay gen synthetic --accesses 10M --seed 7 -o big.vmt.gz
              vmreplay gen synthetic --accesses 1000 -o - | less
            """,
        aliases: ["random"]
    )

    @Option(help: "Number of access events.")
    var accesses = Count(1_000_000)

    @Option(help: "Processes at the start (1 to 8).")
    var processes = 3

    @Option(help: "Forks during the run (0 to 4).")
    var forks = 2

    @OptionGroup var common: GenOutput

    func validate() throws {
        guard (1...8).contains(processes) else { throw ValidationError("--processes must be between 1 and 8") }
        guard (0...4).contains(forks) else { throw ValidationError("--forks must be between 0 and 4") }
    }

    func run() throws {
        try common.write(SyntheticWorkload(accesses: accesses.value, seed: common.seed,
                                           processes: processes, forks: forks))
    }
}

struct GenSeqAnon: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "seq-anon",
        abstract: "Sequential first touch of a large anonymous region (calloc + fill).",
        discussion: """
            One process maps an anonymous region of --size bytes at a seeded address and walks \
            it from front to back, one touch every --stride bytes (8 bytes, or less when the \
            stride is smaller), --passes times. The first pass touches every page for the first \
            time: zero-fill faults, where vm.prefault_pages and vm.fast_fault matter most. \
            Each touch is a write with probability --write-fraction (1: a fill; 0: reading a \
            fresh calloc block, all zero-page reads). A few instruction fetches of the loop \
            come once a page.

            Touches: passes × size / stride.

            Example:
              vmreplay gen seq-anon --size 256M --stride 4K --passes 2 -o fill.vmt.gz
            """
    )

    @Option(help: ArgumentHelp("Bytes in the region.", valueName: "size"))
    var size = ByteSize(bytes: 64 << 20)

    @Option(help: ArgumentHelp("Bytes from one touch to the next.", valueName: "size"))
    var stride = ByteSize(bytes: 64)

    @Option(help: ArgumentHelp("Fraction of touches that are writes (0 to 1).", valueName: "fraction"))
    var writeFraction = 1.0

    @Option(help: "Passes over the region.")
    var passes = Count(1)

    @OptionGroup var common: GenOutput

    func validate() throws {
        try checkSize(size, "--size")
        try checkSize(stride, "--stride")
        try checkFraction(writeFraction, "--write-fraction")
    }

    func run() throws {
        try common.write(SequentialAnonWorkload(size: size.bytes, stride: stride.bytes, writeFraction: writeFraction,
                                                passes: passes.value, seed: common.seed))
    }
}

struct GenRandomAnon: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "random-anon",
        abstract: "Random touches over an anonymous working set.",
        discussion: """
            One process maps an anonymous region of --working-set bytes and touches it \
            --touches times at uniformly random spots (1 to 8 bytes, aligned), each a write \
            with probability --write-fraction: a hash table or sparse data with no locality \
            beyond the page, so prefaulted neighbours are rarely used. Two instruction fetches of \
            the loop come every eight touches.

            Example:
              vmreplay gen random-anon --working-set 256M --touches 2M -o random.vmt.gz
            """
    )

    @Option(help: ArgumentHelp("Bytes in the region.", valueName: "size"))
    var workingSet = ByteSize(bytes: 64 << 20)

    @Option(help: "Number of touches.")
    var touches = Count(1_000_000)

    @Option(help: ArgumentHelp("Fraction of touches that are writes (0 to 1).", valueName: "fraction"))
    var writeFraction = 0.3

    @OptionGroup var common: GenOutput

    func validate() throws {
        try checkSize(workingSet, "--working-set", atLeast: 8)
        try checkFraction(writeFraction, "--write-fraction")
    }

    func run() throws {
        try common.write(RandomAnonWorkload(workingSet: workingSet.bytes, touches: touches.value,
                                            writeFraction: writeFraction, seed: common.seed))
    }
}

struct GenFileScan: ParsableCommand {
    enum ScanAdvice: String, ExpressibleByArgument, CaseIterable {
        case normal, sequential, random

        var advice: Advice {
            switch self {
            case .normal: return .normal
            case .sequential: return .sequential
            case .random: return .random
            }
        }
    }

    static let configuration = CommandConfiguration(
        commandName: "file-scan",
        abstract: "A file mapped and read sequentially, cold or resident.",
        discussion: """
            One process maps a file of --size bytes read-only (MAP_PRIVATE, or MAP_SHARED with \
            --shared), optionally advises the kernel (--advice sequential: MADV_SEQUENTIAL; \
            random: MADV_RANDOM, which turns off read-ahead and prefault), and reads it from \
            front to back, 8 bytes every --stride bytes, --passes times. A cold file costs major \
            faults and vnode-pager reads on the first pass; with --resident every page starts \
            in the page cache and the faults are minor. Later passes find the pages mapped.

            Example:
              vmreplay gen file-scan --size 128M --advice sequential -o scan.vmt.gz
              vmreplay gen file-scan --size 128M --resident --shared -o scan-warm.vmt.gz
            """
    )

    @Option(help: ArgumentHelp("Bytes in the file.", valueName: "size"))
    var size = ByteSize(bytes: 64 << 20)

    @Option(help: ArgumentHelp("Bytes from one read to the next.", valueName: "size"))
    var stride = ByteSize(bytes: 64)

    @Option(help: "Passes over the file.")
    var passes = Count(1)

    @Option(help: "madvise(2) advice given after mapping (normal: none).")
    var advice = ScanAdvice.normal

    @Flag(help: "Every page of the file starts in the page cache (else the file is cold).")
    var resident = false

    @Flag(help: "Map it MAP_SHARED (else MAP_PRIVATE).")
    var shared = false

    @OptionGroup var common: GenOutput

    func validate() throws {
        try checkSize(size, "--size")
        try checkSize(stride, "--stride")
    }

    func run() throws {
        try common.write(FileScanWorkload(size: size.bytes, stride: stride.bytes, passes: passes.value,
                                          advice: advice.advice, resident: resident, shared: shared,
                                          seed: common.seed))
    }
}

struct GenHeap: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "heap",
        abstract: "A malloc-like heap growing by brk-style chunks, freeing tails.",
        discussion: """
            One process runs a simple allocator: --allocations blocks of 16 bytes to 64 KiB \
            (mostly small), each written (header, first bytes, a word a page), followed by \
            reads and a write of other live blocks, and often a free whose block a later \
            allocation reuses. The heap grows by anonymous mmaps of --chunk bytes at its end, \
            each abutting the previous one, so the kernel coalesces them into one map entry and \
            object. When it would pass --max-heap a phase ends: the blocks above a random cut \
            are freed and the tail is returned with munmap, and growth starts again from the cut.

            Example:
              vmreplay gen heap --allocations 500K --max-heap 32M -o heap.vmt.gz
            """
    )

    @Option(help: "Number of allocations.")
    var allocations = Count(100_000)

    @Option(help: ArgumentHelp("The largest the heap gets (at least 1M and 4 chunks).", valueName: "size"))
    var maxHeap = ByteSize(bytes: 64 << 20)

    @Option(help: ArgumentHelp("Bytes the heap grows by at a time.", valueName: "size"))
    var chunk = ByteSize(bytes: 128 << 10)

    @OptionGroup var common: GenOutput

    func validate() throws {
        try checkSize(chunk, "--chunk")
        try checkSize(maxHeap, "--max-heap", atLeast: max(1 << 20, 4 * chunk.bytes))
    }

    func run() throws {
        try common.write(HeapWorkload(allocations: allocations.value, maxHeap: maxHeap.bytes, chunk: chunk.bytes,
                                      seed: common.seed))
    }
}

struct GenShellLoop: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "shell-loop",
        abstract: "A shell forking children that exec a small program, over and over.",
        discussion: """
            A dynamically linked /bin/sh (pid 1) runs --iterations commands. Each time it \
            parses, forks a child that dirties a little of the shell's stack and bss \
            (copy-on-write) and execs a program of --program-size bytes (three quarters text \
            mapped private r-x, the rest data private rw-, plus bss and a grow-down stack; \
            cold on the first run, then in the page cache). The kernel copies the arguments \
            onto the new stack, the runtime linker maps libc and relocates its data, main() \
            fetches code from a few text pages, touches data, bss and stack, writes to \
            standard output, and the child exits; the shell reaps it.

            Example:
              vmreplay gen shell-loop --iterations 2000 --program-size 1M -o shell.vmt.gz
            """
    )

    @Option(help: "Commands the shell runs (forks and execs).")
    var iterations = Count(1000)

    @Option(help: ArgumentHelp("Bytes of the exec'd program's file (at least 8K).", valueName: "size"))
    var programSize = ByteSize(bytes: 256 << 10)

    @OptionGroup var common: GenOutput

    func validate() throws {
        try checkSize(programSize, "--program-size", atLeast: 8 << 10)
    }

    func run() throws {
        try common.write(ShellLoopWorkload(iterations: iterations.value, programSize: programSize.bytes,
                                           seed: common.seed))
    }
}

struct GenForkServer: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fork-server",
        abstract: "A server forking workers that write into the heap they inherit (COW-heavy).",
        discussion: """
            A server (pid 1) fills a heap of --heap-size bytes and forks --workers workers. \
            They run interleaved, a request at a time: copyout of the request into bss, handler \
            code, stack pushes and pops, a dozen reads all over the heap shared copy-on-write \
            with the server, four writes into the worker's own part of the heap \
            (--write-fraction of its pages: copy-on-write faults), and copyin of the reply. \
            A worker serves --requests requests and exits; with probability --early-exit it \
            exits after 10 to 60% of them, and the server reaps it and forks a replacement for \
            the rest. Good for sweeping vm.prefault_pages and vm.shared_fault.

            Example:
              vmreplay gen fork-server --workers 16 --heap-size 64M -o server.vmt.gz
            """
    )

    @Option(help: "Workers forked at the start.")
    var workers = Count(8)

    @Option(help: ArgumentHelp("Bytes of heap built before forking.", valueName: "size"))
    var heapSize = ByteSize(bytes: 32 << 20)

    @Option(help: ArgumentHelp("Fraction of the heap's pages each worker writes to (0 to 1).", valueName: "fraction"))
    var writeFraction = 0.25

    @Option(help: "Requests each worker serves.")
    var requests = Count(1000)

    @Option(help: ArgumentHelp("Probability that a worker exits early and is replaced (0 to 1).", valueName: "fraction"))
    var earlyExit = 0.25

    @OptionGroup var common: GenOutput

    func validate() throws {
        guard (1...100_000).contains(workers.value) else { throw ValidationError("--workers must be between 1 and 100000") }
        try checkSize(heapSize, "--heap-size")
        try checkFraction(writeFraction, "--write-fraction")
        try checkFraction(earlyExit, "--early-exit")
    }

    func run() throws {
        try common.write(ForkServerWorkload(workers: workers.value, heapSize: heapSize.bytes,
                                            writeFraction: writeFraction, requests: requests.value,
                                            earlyExit: earlyExit, seed: common.seed))
    }
}

struct GenStackDeep: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stack-deep",
        abstract: "A deep recursion on a grow-down stack.",
        discussion: """
            One process recurses --depth calls deep, --recursions times. Each call pushes a \
            return address and frame pointer, reserves a frame of about --frame bytes (up to a \
            quarter more) and writes locals; each return reads a local and pops. The stack is a \
            grow-down reservation (mmap ... stack) of which the kernel maps the top 128 KiB \
            (kern.sgrowsiz); the descent goes far below it, so the first recursion grows the \
            stack fault by fault (vm_map_growstack), and later ones find it grown. The \
            reservation is 8 MiB, or larger when depth × frame needs it; past 8 MiB the replay \
            delivers SIGSEGV at RLIMIT_STACK (kern.dflssiz) unless run with a larger one.

            Example:
              vmreplay gen stack-deep --depth 20K --frame 256 -o deep.vmt.gz
            """
    )

    @Option(help: "Calls deep.")
    var depth = Count(10_000)

    @Option(help: ArgumentHelp("Bytes of locals per call (rounded up to 16).", valueName: "size"))
    var frame = ByteSize(bytes: 256)

    @Option(help: "Times main() recurses.")
    var recursions = Count(2)

    @OptionGroup var common: GenOutput

    func validate() throws {
        try checkSize(frame, "--frame")
        guard UInt64(depth.value).multipliedReportingOverflow(by: frame.bytes + 1024).overflow == false,
              UInt64(depth.value) * (frame.bytes + 1024) < 1 << 40
        else { throw ValidationError("--depth × --frame must stay under 1T") }
    }

    func run() throws {
        try common.write(StackDeepWorkload(depth: depth.value, frame: frame.bytes, recursions: recursions.value,
                                           seed: common.seed))
    }
}

struct GenVKernel: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vkernel",
        abstract: "A vkernel's guest behind a virtual page table (MAP_VPAGETABLE).",
        discussion: """
            One process, a DragonFly vkernel, maps its guest's memory with `mmap ... vpagetable` \
            and builds a four-level virtual page table in it with `store` events, through a \
            linear master entry (`madvise ... setmap` with VPTE_PS); then it points the master \
            entry at the table and the guest runs: --touches 8-byte accesses to its \
            --guest-pages pages (80% to a hot quarter), writes with probability \
            --write-fraction except to the first eighth, which the table maps read-only. Every \
            fault walks the table (vm_fault_vpagetable): reads map pages read-only until VPTE_M \
            is set, so a page's first write after a read faults again. --scans times the vkernel \
            clears VPTE_A and VPTE_M in every fourth leaf (the pageout scan of a guest kernel), \
            and now and then the guest switches context (MADV_INVAL).

            Example:
              vmreplay gen vkernel --guest-pages 1K --touches 100K -o vk.vmt.gz
            """
    )

    @Option(help: "Guest pages the table maps.")
    var guestPages = Count(256)

    @Option(help: "Guest accesses.")
    var touches = Count(20_000)

    @Option(help: ArgumentHelp("Fraction of accesses to writable pages that are writes (0 to 1).", valueName: "fraction"))
    var writeFraction = 0.3

    @Option(help: "Page scans that clear VPTE_A and VPTE_M.")
    var scans = Count(2)

    @OptionGroup var common: GenOutput

    func validate() throws {
        try checkFraction(writeFraction, "--write-fraction")
        guard guestPages.value >= 1, guestPages.value <= 1 << 24 else {
            throw ValidationError("--guest-pages must be between 1 and 16M")
        }
    }

    func run() throws {
        try common.write(VKernelWorkload(guestPages: guestPages.value, touches: touches.value,
                                         writeFraction: writeFraction, scans: scans.value, seed: common.seed))
    }
}

extension ByteSize {
    init(bytes: UInt64) { self.bytes = bytes }

    /// Defaults shown in --help as sizes: 64M, 128K, 256.
    var defaultValueDescription: String {
        for (suffix, shift) in [("G", 30), ("M", 20), ("K", 10)] as [(String, UInt64)]
        where bytes >= 1 << shift && bytes % (1 << shift) == 0 {
            return "\(bytes >> shift)\(suffix)"
        }
        return "\(bytes)"
    }
}

extension Count {
    /// Defaults shown in --help as counts: 1M, 100K, 8.
    var defaultValueDescription: String {
        for (suffix, unit) in [("G", 1_000_000_000), ("M", 1_000_000), ("K", 1000)]
        where value >= unit && value % unit == 0 {
            return "\(value / unit)\(suffix)"
        }
        return "\(value)"
    }
}
