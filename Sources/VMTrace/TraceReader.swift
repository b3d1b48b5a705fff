// Opening a trace: file or stdin, gzip or not (by magic bytes), binary or text (by magic
// bytes), validated, delivered in batches with progress figures.

/// How a trace file is encoded.
public struct TraceFormat: Equatable, Sendable, CustomStringConvertible {
    public enum Encoding: String, Sendable {
        /// `vmtrace 1` text (SPEC §1).
        case text
        /// `.vmt` binary (docs/trace-format.md).
        case binary
    }

    public var encoding: Encoding
    public var gzip: Bool

    public init(encoding: Encoding, gzip: Bool) {
        self.encoding = encoding
        self.gzip = gzip
    }

    /// The format `convert` and the writers pick for an output path: `*.vmt` and `*.vmt.gz`
    /// are binary, anything else text; a `.gz` suffix adds gzip. `-` is plain text.
    public init(outputPath path: String) {
        gzip = path.hasSuffix(".gz")
        let stem = gzip ? String(path.dropLast(3)) : path
        encoding = stem.hasSuffix(".vmt") ? .binary : .text
    }

    /// What messages giving a byte offset in the decoded stream add: gzip's offsets are not
    /// the file's.
    public var decodedOffsetNote: String { gzip ? BinaryTraceDecoder.decompressedNote : "" }

    /// e.g. `binary (.vmt v1), gzip`.
    public var description: String {
        (encoding == .text ? "text (vmtrace 1)" : "binary (.vmt v\(BinaryTrace.version))") + (gzip ? ", gzip" : "")
    }
}

/// How far a reader has got, for progress lines.
public struct TraceProgress: Equatable, Sendable {
    /// Bytes of the file consumed so far (compressed bytes for gzip input).
    public var fileBytesRead: UInt64
    /// The file's size, when it is a regular file (nil for pipes and stdin).
    public var fileSize: UInt64?
    /// Decoded trace bytes so far (equal to `fileBytesRead` without gzip).
    public var rawBytesRead: UInt64
    /// Events delivered so far (skipped ones not included).
    public var events: UInt64

    /// 0...1 when the size is known.
    public var fraction: Double? {
        guard let size = fileSize, size > 0 else { return nil }
        return min(1, Double(fileBytesRead) / Double(size))
    }
}

/// What `--keep-going` does with bad events: count and keep the first few, or stop at once.
package struct ErrorPolicy {
    package static let maxSamples = 10
    package let keepGoing: Bool
    package private(set) var skipped = 0
    package private(set) var samples: [TraceError] = []

    package init(keepGoing: Bool) { self.keepGoing = keepGoing }

    package mutating func handle(_ error: TraceError) throws {
        guard keepGoing else { throw error }
        skipped += 1
        if samples.count < Self.maxSamples { samples.append(error) }
    }
}

/// A text or binary decoder; it validates each event and appends the good ones.
protocol EventDecoder: AnyObject {
    /// Appends events until `events.count == limit` (true) or the trace ends (false).
    func decode(into events: inout [TraceEvent], limit: Int, validator: inout TraceValidator,
                policy: inout ErrorPolicy) throws -> Bool
}

/// Reads a trace in batches, in constant memory.
///
/// ```swift
/// let reader = try TraceReader(path: "trace.vmt.gz")
/// var batch: [TraceEvent] = []
/// while try reader.nextBatch(into: &batch) {
///     for event in batch { ... }
/// }
/// ```
/// Every error is a `TraceError` (print its `description`, exit with its `exitCode`).
/// With `keepGoing`, events that fail to parse or validate are skipped and counted in
/// `skippedEvents` instead; damage that loses the stream's framing (gzip, binary records)
/// still stops the reader.
public final class TraceReader {
    public struct Options: Sendable {
        /// Skip and count bad events instead of failing on the first.
        public var keepGoing: Bool
        /// Events per `nextBatch` call.
        public var batchSize: Int

        public init(keepGoing: Bool = false, batchSize: Int = 4096) {
            self.keepGoing = keepGoing
            self.batchSize = max(1, batchSize)
        }
    }

    /// The path as given (`-` for standard input).
    public let path: String
    /// The name messages use (`<stdin>` for `-`).
    public let displayName: String
    /// The format detected from the magic bytes.
    public let format: TraceFormat
    public let options: Options

    private let file: FileInput
    private let input: ByteInput
    private let window: InputWindow
    private let decoder: EventDecoder
    // Per-event state, read and written from one thread: @exclusivity(unchecked) spares the
    // runtime access check a class stored var costs on each use (as in every decoder class).
    @exclusivity(unchecked) private var validator = TraceValidator()
    @exclusivity(unchecked) private var policy: ErrorPolicy
    @exclusivity(unchecked) private var finished = false
    private var failure: Error?
    @exclusivity(unchecked) private var delivered: UInt64 = 0

    /// Opens `path` (`-` = standard input) and detects its format.
    public init(path: String, options: Options = Options()) throws {
        self.path = path
        self.options = options
        displayName = TraceReader.displayName(path)
        policy = ErrorPolicy(keepGoing: options.keepGoing)
        file = try FileInput(path: path)
        let gzip = hasGzipMagic(try file.peek(2))
        // Inflate runs on its own thread, ahead of the parser (docs/performance.md).
        input = gzip ? ThreadedInput(try GzipInput(file: file)) : file
        window = InputWindow(input: input, name: displayName)
        _ = try window.ensure(BinaryTrace.magic.count)
        let head = UnsafeBufferPointer(start: window.base + window.pos, count: window.available)
        if head.starts(with: BinaryTrace.magic) {
            format = TraceFormat(encoding: .binary, gzip: gzip)
            decoder = try BinaryTraceDecoder(window: window, compressed: gzip)
        } else {
            format = TraceFormat(encoding: .text, gzip: gzip)
            decoder = TextTraceDecoder(window: window)
        }
    }

    package static func displayName(_ path: String) -> String { path == "-" ? "<stdin>" : path }

    /// Replaces `events` with the next batch (up to `options.batchSize` events), reusing its
    /// storage. Returns false, with `events` empty, once the trace is exhausted.
    public func nextBatch(into events: inout [TraceEvent]) throws -> Bool {
        events.removeAll(keepingCapacity: true)
        events.reserveCapacity(options.batchSize)
        return try fill(&events) { sink, limit, validator, policy in
            try decoder.decode(into: &sink, limit: limit, validator: &validator, policy: &policy)
        }
    }

    /// `nextBatch`, packed for replay engines (see `ReplayBatch`), with the batch's runs of
    /// same-page accesses marked (by the binary decoder as it goes; by `AccessRunMap.mark`
    /// for text).
    public func nextBatch(into batch: inout ReplayBatch) throws -> Bool {
        batch.removeAll()
        guard let binary = decoder as? BinaryTraceDecoder else {
            // Text is the only other decoder.
            guard let text = decoder as? TextTraceDecoder else { return false }
            guard try fill(&batch, { sink, limit, validator, policy in
                try text.decode(into: &sink, limit: limit, validator: &validator, policy: &policy)
            }) else { return false }
            batch.markRuns()
            return true
        }
        guard try fill(&batch, { sink, limit, validator, policy in
            try binary.decode(into: &sink, limit: limit, validator: &validator, policy: &policy)
        }) else { return false }
        binary.takeRuns(count: batch.count, into: &batch.runs)
        return true
    }

    /// Decodes into the empty `sink` until it holds a batch or the trace ends; a decoding
    /// error is kept and thrown again by every later call.
    @inline(__always)
    private func fill<Sink: EventSink>(
        _ sink: inout Sink,
        _ decode: (inout Sink, Int, inout TraceValidator, inout ErrorPolicy) throws -> Bool
    ) throws -> Bool {
        if let failure { throw failure }
        if finished { return false }
        do {
            while sink.isEmpty {
                if try !decode(&sink, options.batchSize, &validator, &policy) {
                    finished = true
                    break
                }
            }
        } catch {
            failure = error
            throw error
        }
        delivered += UInt64(sink.count)
        return !sink.isEmpty
    }

    /// Calls `body` with every event, batch by batch.
    public func forEach(_ body: (TraceEvent) throws -> Void) throws {
        var batch: [TraceEvent] = []
        while try nextBatch(into: &batch) {
            for event in batch { try body(event) }
        }
    }

    /// All remaining events in one array (for small traces and tests).
    public func readAll() throws -> [TraceEvent] {
        var all: [TraceEvent] = []
        try forEach { all.append($0) }
        return all
    }

    /// Reads a whole trace file into memory (for small traces and tests).
    public static func readAll(path: String, options: Options = Options()) throws -> [TraceEvent] {
        try TraceReader(path: path, options: options).readAll()
    }

    /// Bad events skipped under `keepGoing`.
    public var skippedEvents: Int { policy.skipped }
    /// The first few of those errors (at most 10), for warnings.
    public var skippedErrors: [TraceError] { policy.samples }

    public var progress: TraceProgress {
        TraceProgress(fileBytesRead: input.fileBytesConsumed, fileSize: file.fileSize,
                      rawBytesRead: input.bytesProduced, events: delivered)
    }

    /// Bytes of buffers the reader holds (file read buffer + decode window); independent of
    /// the trace's length.
    public var bufferCapacity: Int { file.bufferCapacity + window.capacity }
}
