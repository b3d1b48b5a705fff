// `vmreplay info TRACE`: what a trace contains.

import ArgumentParser
import VMReplay
import VMTrace

struct Info: ParsableCommand {
    enum Format: String, ExpressibleByArgument, CaseIterable {
        case text, json
    }

    static let configuration = CommandConfiguration(
        abstract: "Show what a trace contains.",
        discussion: """
            Reads the whole trace (validating it as a replay would) and prints: the format \
            detected, compressed and raw sizes, event counts by kind, the processes and \
            files declared, the bytes mapped by mmap, accesses by kind, the lowest and \
            highest byte address accessed, and the number of distinct pages (4 KiB pages \
            accessed at least once, each counted once per process; replay.pages_touched is \
            another figure: every page of every access). An access is one r/w/x/kr/kw/peek/poke \
            event, as in replay.accesses.

            Examples:
              vmreplay info trace.vmt.gz
              vmreplay info --format json trace.txt | jq .accesses
              zcat trace.txt.gz | vmreplay info -
            """
    )

    @Argument(help: "The trace to read (text or .vmt, gzip or not; - for standard input).")
    var trace: String

    @Option(help: "Output format: text or json.")
    var format: Format = .text

    @Flag(help: "Skip and count bad events instead of stopping at the first.")
    var keepGoing = false

    func run() throws {
        try runReportingErrors {
            let reader = try TraceReader(path: trace, options: .init(keepGoing: keepGoing))
            var stats = TraceStatistics()
            try TraceScan.run(reader: reader) { stats.add($0) }
            reportSkipped(reader.skippedEvents, reader.skippedErrors)
            let report = InfoReport(path: trace, reader: reader, stats: stats)
            try printToStandardOutput(format == .json ? report.json : report.text)
        }
    }
}

/// The figures `info` prints, in both forms.
struct InfoReport {
    static let maxListedPids = 32

    let path: String
    let format: TraceFormat
    let progress: TraceProgress
    let skipped: Int
    let stats: TraceStatistics

    init(path: String, reader: TraceReader, stats: TraceStatistics) {
        self.path = path
        format = reader.format
        progress = reader.progress
        skipped = reader.skippedEvents
        self.stats = stats
    }

    private static func hex(_ v: UInt64) -> String { "0x" + String(v, radix: 16) }

    private static func human(_ bytes: UInt64) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"]
        var value = Double(bytes)
        var unit = 0
        while value >= 1024 && unit < units.count - 1 {
            value /= 1024
            unit += 1
        }
        if unit == 0 { return "\(bytes) B" }
        let tenths = Int((value * 10).rounded())
        return "\(tenths / 10).\(tenths % 10) \(units[unit])"
    }

    private var nonAccessKeywords: [String] {
        TraceEvent.allKeywords.filter { k in !AccessKind.allCases.contains { $0.keyword == k } }
    }

    var text: String {
        func row(_ name: String, _ value: String) -> String {
            name.padding(18) + value + "\n"
        }
        var out = row("trace", path == "-" ? "<stdin>" : path)
        out += row("format", format.description)
        var size = "\(progress.fileBytesRead) bytes"
        if format.gzip {
            size += " compressed, \(progress.rawBytesRead) raw"
        }
        out += row("size", size)
        out += row("events", "\(stats.events)" + (skipped > 0 ? " (\(skipped) skipped)" : ""))
        for k in nonAccessKeywords where stats.count(k) > 0 {
            out += row("  " + k, "\(stats.count(k))")
        }
        var procs = "\(stats.pids.count)"
        if !stats.pids.isEmpty && stats.pids.count <= Self.maxListedPids {
            procs += " (pids " + stats.pids.map(String.init).joined(separator: " ") + ")"
        }
        out += row("processes", procs)
        out += row("files", "\(stats.files)")
        out += row("mapped bytes", "\(stats.mappedBytes) (\(Self.human(stats.mappedBytes)))")
        out += row("accesses", "\(stats.accesses)")
        for kind in AccessKind.allCases where stats.accessCounts[Int(kind.rawValue)] > 0 {
            out += row("  " + kind.keyword, "\(stats.accessCounts[Int(kind.rawValue)])")
        }
        if let lo = stats.minAddress, let hi = stats.maxAddress {
            out += row("address range", "\(Self.hex(lo)) - \(Self.hex(hi))")
        }
        out += row("distinct pages", "\(stats.distinctPages) (\(Self.human(UInt64(stats.distinctPages) * 4096)))")
        return out
    }

    var json: String {
        var events = ["\"total\": \(stats.events)"]
        for k in TraceEvent.allKeywords { events.append("\"\(k)\": \(stats.count(k))") }
        var accesses = ["\"total\": \(stats.accesses)"]
        for kind in AccessKind.allCases {
            accesses.append("\"\(kind.keyword)\": \(stats.accessCounts[Int(kind.rawValue)])")
        }
        let range: String
        if let lo = stats.minAddress, let hi = stats.maxAddress {
            range = "{\"min\": \"\(Self.hex(lo))\", \"max\": \"\(Self.hex(hi))\"}"
        } else {
            range = "null"
        }
        let fields = [
            "\"trace\": \(jsonStringLiteral(path))",
            "\"format\": {\"encoding\": \"\(format.encoding.rawValue)\", \"gzip\": \(format.gzip), \"description\": \(jsonStringLiteral(format.description))}",
            "\"file_bytes\": \(progress.fileBytesRead)",
            "\"raw_bytes\": \(progress.rawBytesRead)",
            "\"events\": {" + events.joined(separator: ", ") + "}",
            "\"skipped_events\": \(skipped)",
            "\"processes\": {\"count\": \(stats.pids.count), \"pids\": [" + stats.pids.map(String.init).joined(separator: ", ") + "]}",
            "\"files\": \(stats.files)",
            "\"mapped_bytes\": \(stats.mappedBytes)",
            "\"accesses\": {" + accesses.joined(separator: ", ") + "}",
            "\"address_range\": \(range)",
            "\"distinct_pages\": \(stats.distinctPages)",
        ]
        return "{\n  " + fields.joined(separator: ",\n  ") + "\n}\n"
    }
}

extension String {
    /// Pads with spaces to `width` characters.
    func padding(_ width: Int) -> String {
        count >= width ? self + " " : self + String(repeating: " ", count: width - count)
    }
}
