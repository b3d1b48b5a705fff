// `vmreplay sweep TRACE -s NAME=V1,V2,...`: compare settings on one workload in one pass.
import ArgumentParser
import Foundation
import VMReplay
import VMTrace

struct SweepCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sweep",
        abstract: "Replay a trace under every combination of settings, decoding it once.",
        discussion: """
            Each -s takes a list of values; the sweep runs the cartesian product (the first -s \
            varies slowest). Values: V1,V2,... or ranges LOW..HIGH, LOW..HIGH:STEP, \
            LOW..HIGH:xFACTOR (0..64:x2 is 0,1,2,4,...,64); lists and ranges mix \
            (0,1..4,8). The trace is decoded once and every batch of events goes to every \
            configuration's engine; the engines run concurrently. Each row equals what a \
            separate `vmreplay replay` with those settings reports.

            The table gives, per row: the settings, traps, v_vm_faults, v_zfod, \
            v_cow_faults, ru_minflt, ru_majflt, prefault pages and hits, the hit ratio \
            (hits / prefaulted pages), peak resident pages, and the change in traps against \
            the baseline row (the defaults, else the first row). --format csv or json gives \
            every report key per row. --plot draws traps, prefault hits and wasted \
            prefaults against the first swept setting, one line per combination of the \
            others.

            Examples:
              vmreplay sweep traces/gen-fork-server.vmt.gz -s vm.prefault_pages=0,1,2,4,8,16,32 -s vm.shared_fault=0,1 --plot sweep.svg
              vmreplay sweep trace.txt -s vm.prefault_pages=0..64:x2 --format csv > sweep.csv
              vmreplay sweep trace.txt --phys-mem 32M,64M --swap 256M -s vm.prefault_pages=0,8

            Corpus: several traces, a directory or @list.txt give one row per (trace, \
            setting), each with the trace's name and checksum, traces in name order; up to \
            --jobs traces replay at a time, each engine held to --max-memory. --shard K/N runs \
            one slice of the work list and writes a partial result for `vmreplay merge` \
            (docs/scale.md).
              vmreplay sweep traces/ -s vm.prefault_pages=0,8,16 --format csv -o corpus.csv
              vmreplay sweep traces/ -s vm.prefault_pages=0,8,16 --shard 2/4 -o part2.jsonl
            """
    )

    @Argument(help: "The trace (text or .vmt, gzip or not; - for standard input), a directory of traces, or @list.txt (one path a line).")
    var trace: String

    @Argument(help: ArgumentHelp("More traces, directories or @lists: a corpus sweep.", valueName: "trace"))
    var moreTraces: [String] = []

    @OptionGroup(title: "Corpus") var corpus: SweepCorpusOptions

    @OptionGroup var options: ReplayOptions

    @Option(help: "Output format: text (a table), csv, json or sysctl.")
    var format: ReportFormat = .text

    @Option(name: .shortAndLong, help: "Write the table or data to this file (atomically) instead of stdout.")
    var output: String?

    @Option(help: ArgumentHelp("Also draw an SVG chart to this file.", valueName: "file.svg"))
    var plot: String?

    @OptionGroup(title: "Insight") var insight: SweepInsightOptions

    func run() throws {
        var options = self.options
        let settings = try options.takeSizeLists(adding: options.parsedSettings())
        guard !settings.isEmpty else {
            printToStandardError("vmreplay: sweep needs at least one -s NAME=V1,V2,...")
            throw ExitCode(64)
        }
        guard Setting.combinationCount(settings, limit: 4096) != nil else {
            printToStandardError("vmreplay: the sweep has more than 4096 combinations")
            throw ExitCode(64)
        }
        do { try Setting.checkProduct(settings) } catch {
            printToStandardError("vmreplay: \(error.description)")
            throw ExitCode(64)
        }
        let base = try options.configuration([])
        if corpus.isRequested(for: [trace] + moreTraces) {
            return try runCorpusSweep(traces: [trace] + moreTraces, settings: settings, base: base)
        }
        let progress = ProgressLine(label: "sweep", requested: options.progress)
        try runReportingErrors {
            try refuseOutputOverInput(output, option: "-o", inputs: [trace] + [plot].compactMap { $0 })
            try refuseOutputOverInput(plot, option: "--plot", inputs: [trace])
            installOutputCleanupOnSignals()
            let recorders = SweepInsightOptions.Recorders()
            let result = try runReplayJob(trace: trace, progress: progress) {
                try SweepDriver.run(path: trace, settings: settings, base: base,
                                    keepGoing: options.keepGoing, progress: progress.update,
                                    prepare: insight.prepare(recorders))
            }
            try insight.finish(result, recorders: recorders, trace: trace)
            reportSkipped(result.skippedEvents, result.skippedSamples)
            if let plot {
                let name = trace.split(separator: "/").last.map(String.init) ?? trace
                try writeTextFileAtomically(SweepPlot.render(result, title: name), to: plot)
            }
            try emit(result.render(format), to: output)
        }
    }
}
