// `vmreplay convert`: any readable trace to any writable format, streaming.

import Glibc

/// The outcome of a conversion.
public struct ConversionSummary: Sendable {
    public var inputFormat: TraceFormat
    public var outputFormat: TraceFormat
    public var events: UInt64
    /// Bad events skipped under `keepGoing`, and the first few of their errors.
    public var skippedEvents: Int
    public var skippedErrors: [TraceError]
    /// Bytes read from the input file (compressed size for gzip).
    public var inputBytes: UInt64
    /// Decoded input bytes.
    public var rawInputBytes: UInt64
}

public enum TraceConversion {
    /// Whether two paths name the same file (same device and inode), or the same path.
    public static func sameFile(_ a: String, _ b: String) -> Bool {
        if a == "-" || b == "-" { return false }
        if a == b { return true }
        var sa = stat(), sb = stat()
        guard stat(a, &sa) == 0, stat(b, &sb) == 0 else { return false }
        return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino
    }

    /// Converts `input` to `output`, whose name picks the format (`TraceFormat(outputPath:)`).
    /// On any error the output file does not appear; the error is rethrown.
    public static func convert(input: String, output: String, keepGoing: Bool = false,
                               format: TraceFormat? = nil, compressionLevel: Int = 6,
                               progress: ((TraceProgress) -> Void)? = nil) throws -> ConversionSummary {
        if sameFile(input, output) {
            throw TraceError(.usage, "convert: input and output are the same file (\(output))")
        }
        let reader = try TraceReader(path: input, options: .init(keepGoing: keepGoing))
        let writer = try TraceWriter(path: output, format: format, compressionLevel: compressionLevel)
        do {
            var batch: [TraceEvent] = []
            while try reader.nextBatch(into: &batch) {
                for event in batch { try writer.write(event) }
                progress?(reader.progress)
            }
            try writer.finish()
        } catch {
            writer.abandon()
            throw error
        }
        let p = reader.progress
        return ConversionSummary(inputFormat: reader.format, outputFormat: writer.format,
                                 events: writer.eventsWritten, skippedEvents: reader.skippedEvents,
                                 skippedErrors: reader.skippedErrors, inputBytes: p.fileBytesRead,
                                 rawInputBytes: p.rawBytesRead)
    }
}
