// `vmreplay convert IN OUT`: text ↔ binary, gzip by the output's name.

import ArgumentParser
import VMTrace

struct Convert: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Convert a trace between text and binary (.vmt), with or without gzip.",
        discussion: """
            The input's format is detected from its bytes (gzip or not, text or .vmt). The \
            output's format comes from its name: *.vmt and *.vmt.gz are binary; *.txt, \
            *.vmtrace and any other name are text; a .gz suffix adds gzip compression. "-" \
            reads standard input or writes text to standard output.

            Conversion is lossless: text → binary → text gives the same events. The output \
            appears only when the conversion succeeds; on an error or an interrupt no \
            partial file is left behind.

            Examples:
              vmreplay convert trace.txt trace.vmt.gz        compact binary, gzip
              vmreplay convert trace.vmt.gz trace.txt        back to readable text
              zcat big.txt.gz | vmreplay convert - big.vmt   from standard input
              vmreplay convert --keep-going messy.txt clean.txt
                                                             drop the bad lines, count them
            """
    )

    @Argument(help: "The trace to read (text or .vmt, gzip or not; - for standard input).")
    var input: String

    @Argument(help: "The trace to write; its name picks the format (- for text on standard output).")
    var output: String

    @Flag(help: "Skip and count bad events instead of stopping at the first.")
    var keepGoing = false

    @Option(help: "gzip compression level for a .gz output, 1 (fast) to 9 (small).")
    var level = 6

    func validate() throws {
        if input == output && input != "-" {
            throw ValidationError("input and output are the same file (\(output))")
        }
        guard (1...9).contains(level) else {
            throw ValidationError("--level must be between 1 and 9")
        }
    }

    func run() throws {
        installOutputCleanupOnSignals()
        try runReportingErrors {
            let summary = try TraceConversion.convert(input: input, output: output, keepGoing: keepGoing,
                                                      compressionLevel: level)
            reportSkipped(summary.skippedEvents, summary.skippedErrors)
        }
    }
}
