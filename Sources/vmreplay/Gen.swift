// `vmreplay gen WORKLOAD`: synthetic traces.

import ArgumentParser
import VMTrace

struct Gen: ParsableCommand {
    enum Workload: String, ExpressibleByArgument, CaseIterable {
        case synthetic
        case random
    }

    static let configuration = CommandConfiguration(
        abstract: "Generate a synthetic trace.",
        discussion: """
            "synthetic" (alias "random") is a seeded, deterministic workload with realistic \
            locality: a few processes with code, data, heap, stack, library and shared-file \
            mappings, a fork or two, and accesses that are mostly sequential or strided runs \
            plus a drifting hot working set, reads, writes and instruction fetches of 1 to 8 \
            bytes. The same seed always gives the same trace.

            Counts take K, M, G suffixes (decimal: 10M = 10,000,000). The output's name picks \
            its format as for convert.

            Examples:
              vmreplay gen synthetic --accesses 10M --seed 7 -o big.vmt.gz
              vmreplay gen synthetic --accesses 1000 -o - | less
            """
    )

    @Argument(help: "The workload to generate (synthetic).")
    var workload: Workload

    @Option(help: "Number of access events.")
    var accesses = Count(1_000_000)

    @Option(help: "Random seed.")
    var seed: UInt64 = 1

    @Option(help: "Processes at the start (1 to 8).")
    var processes = 3

    @Option(help: "Forks during the run (0 to 4).")
    var forks = 2

    @Option(name: .shortAndLong, help: "The trace to write (- for text on standard output).")
    var output: String

    func validate() throws {
        guard (1...8).contains(processes) else { throw ValidationError("--processes must be between 1 and 8") }
        guard (0...4).contains(forks) else { throw ValidationError("--forks must be between 0 and 4") }
    }

    func run() throws {
        installOutputCleanupOnSignals()
        try runReportingErrors {
            let writer = try TraceWriter(path: output)
            let generator = SyntheticWorkload(accesses: accesses.value, seed: seed,
                                              processes: processes, forks: forks)
            do {
                try generator.write(to: writer)
                try writer.finish()
            } catch {
                writer.abandon()
                throw error
            }
        }
    }
}
