// Writing a trace: text or binary, gzip or not, into a file that appears only when complete.

/// Writes events to a path (`-` = standard output) in the format its name asks for (see
/// `TraceFormat(outputPath:)`), through a fixed 1 MiB encode buffer.
///
/// The file is written under a temporary name in the destination directory and renamed by
/// `finish()`. If `finish()` is never reached (an error, `abandon()`, the writer going away),
/// the temporary file is deleted and nothing appears; `installOutputCleanupOnSignals()` extends
/// that to SIGINT/SIGTERM/SIGHUP.
public final class TraceWriter {
    static let bufferSize = 1 << 20

    public let path: String
    public let format: TraceFormat
    private let file: OutputFile
    private let sink: ByteOutput
    private let buffer: UnsafeMutablePointer<UInt8>
    private var used = 0
    private let isBinary: Bool
    private let binary = BinaryTraceEncoder()
    private var validator = TraceValidator()
    private var done = false
    public private(set) var eventsWritten: UInt64 = 0

    /// - Parameters:
    ///   - format: overrides the format chosen from the file name.
    ///   - compressionLevel: zlib level 1...9 for gzip output.
    public init(path: String, format: TraceFormat? = nil, compressionLevel: Int = 6) throws {
        self.path = path
        self.format = format ?? TraceFormat(outputPath: path)
        file = try OutputFile(path: path)
        if self.format.gzip {
            sink = try GzipOutput(sink: file.output, name: path, level: Int32(clamping: min(9, max(1, compressionLevel))))
        } else {
            sink = file.output
        }
        buffer = .allocate(capacity: Self.bufferSize)
        isBinary = self.format.encoding == .binary
        var c = ByteCursor(p: buffer)
        if isBinary {
            BinaryTraceEncoder.writeHeader(into: &c)
        } else {
            c.put("vmtrace 1\n")
        }
        used = c.p - buffer
    }

    deinit {
        buffer.deallocate()
    }

    /// Bytes of buffers the writer holds (encode buffer + gzip buffer); independent of the
    /// trace's length.
    public var bufferCapacity: Int { Self.bufferSize + sink.bufferCapacity }

    private func flush() throws {
        guard !done else { throw TraceError(.ioError, file: path, "write after the trace was finished or abandoned") }
        guard used > 0 else { return }
        try sink.write(UnsafeRawBufferPointer(start: buffer, count: used))
        used = 0
    }

    private func invalid(_ event: TraceEvent, _ problem: String) -> Error {
        failed(TraceError(.dataError, file: path, "event \(eventsWritten + 1): \(problem): \(quoteInput(event.description))"))
    }

    private func failed(_ error: Error) -> Error {
        abandon()
        return error
    }

    /// Appends one event. Events a reader would reject (the `TraceValidator` checks, in
    /// order) and, for text output, events whose text would read back differently (file paths
    /// with `#`, line breaks or edge blanks) are data errors, and abandon the output: every
    /// trace a writer completes reads back.
    @inline(__always)
    public func write(_ event: TraceEvent) throws {
        let room: Int
        if case .access(let a) = event {
            if let problem = validator.checkAccess(a) { throw invalid(event, problem) }
            room = BinaryTrace.maxFixedRecord
        } else {
            if let problem = validator.check(event) { throw invalid(event, problem) }
            room = max(event.maxTextBytes, BinaryTraceEncoder.maxBytes(event))
            if format.encoding == .text, let problem = event.textProblem {
                throw failed(TraceError(.dataError, file: path, "cannot write \(quoteInput(event.description)) as text: \(problem)"))
            }
        }
        if used + room > Self.bufferSize {
            do { try flush() } catch { throw failed(error) }
        }
        var c = ByteCursor(p: buffer + used)
        if isBinary {
            binary.encode(event, into: &c)
        } else {
            event.formatText(into: &c)
            c.put(10)
        }
        used = c.p - buffer
        eventsWritten += 1
    }

    public func write<S: Sequence>(contentsOf events: S) throws where S.Element == TraceEvent {
        for event in events { try write(event) }
    }

    /// Completes the trace (end record, gzip trailer), closes it and moves it into place.
    public func finish() throws {
        guard !done else { return }
        do {
            if isBinary {
                if used + BinaryTrace.maxFixedRecord > Self.bufferSize { try flush() }
                var c = ByteCursor(p: buffer + used)
                binary.writeEnd(into: &c)
                used = c.p - buffer
            }
            try flush()
            try sink.finish()
            try file.commit()
            done = true
        } catch {
            throw failed(error)
        }
    }

    /// Gives up: deletes the temporary file. Later writes are not allowed.
    public func abandon() {
        done = true
        file.discard()
    }
}
