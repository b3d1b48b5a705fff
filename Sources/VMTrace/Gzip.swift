// Streaming gzip through zlib. zlib's init macros are not imported into Swift, so the
// underscore functions are called with ZLIB_VERSION and sizeof(z_stream) as the macros would.

import CZlib
import Glibc

/// windowBits for gzip framing (15-bit window + 16 = gzip header and trailer).
private let gzipWindowBits: Int32 = 15 + 16

/// True when `bytes` start with the gzip magic `1f 8b`.
package func hasGzipMagic(_ bytes: UnsafeMutableBufferPointer<UInt8>) -> Bool {
    bytes.count >= 2 && bytes[0] == 0x1f && bytes[1] == 0x8b
}

/// Inflates a gzip file (one or more concatenated members) as it is read. The inflated bytes
/// go straight into the caller's buffer; the compressed side reads through `FileInput`'s
/// buffer. A stream that ends without a member's end-of-stream marker, or whose data or CRC
/// is wrong, is a data error naming the compressed byte offset.
package final class GzipInput: ByteInput {
    private let file: FileInput
    private let stream: UnsafeMutablePointer<z_stream>
    @exclusivity(unchecked) private var produced: UInt64 = 0
    /// True between the end of one member and the start of the next.
    @exclusivity(unchecked) private var atMemberBoundary = false
    @exclusivity(unchecked) private var finished = false

    package init(file: FileInput) throws {
        self.file = file
        stream = .allocate(capacity: 1)
        stream.initialize(to: z_stream())
        let status = inflateInit2_(stream, gzipWindowBits, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size))
        guard status == Z_OK else {
            stream.deallocate()
            throw TraceError(.ioError, file: file.name, "cannot start gzip decompression (zlib error \(status))")
        }
    }

    deinit {
        inflateEnd(stream)
        stream.deallocate()
    }

    package var fileBytesConsumed: UInt64 { file.fileBytesConsumed }
    package var bytesProduced: UInt64 { produced }
    package var bufferCapacity: Int { file.bufferCapacity }

    private func damage(_ message: String) -> TraceError {
        TraceError(.dataError, file: file.name, at: .byte(file.fileBytesConsumed), "gzip: \(message)")
    }

    package func read(into dst: UnsafeMutablePointer<UInt8>, count: Int) throws -> Int {
        if finished || count == 0 { return 0 }
        while true {
            if atMemberBoundary {
                // Another member may follow (concatenated gzip files); anything else is damage.
                guard try file.fill() else {
                    finished = true
                    return 0
                }
                guard file.pending[0] == 0x1f else {
                    throw damage("unexpected data after the end of the compressed stream")
                }
                inflateReset(stream)
                atMemberBoundary = false
            }
            guard try file.fill() else {
                throw damage("truncated compressed stream (ends without an end-of-stream marker)")
            }
            let input = file.pending
            stream.pointee.next_in = input.baseAddress
            stream.pointee.avail_in = UInt32(input.count)
            stream.pointee.next_out = dst
            stream.pointee.avail_out = UInt32(clamping: count)
            let status = inflate(stream, Z_NO_FLUSH)
            let used = input.count - Int(stream.pointee.avail_in)
            let made = Int(clamping: count) - Int(stream.pointee.avail_out)
            file.consume(used)
            produced += UInt64(made)
            switch status {
            case Z_OK:
                break
            case Z_STREAM_END:
                atMemberBoundary = true
            case Z_BUF_ERROR:
                // No progress possible: zlib needs more input than there is buffered.
                if used == 0 && made == 0 && file.pending.count > 0 {
                    throw damage("corrupt compressed data")
                }
            case Z_MEM_ERROR:
                throw TraceError(.ioError, file: file.name, "gzip: out of memory")
            default:
                let detail = stream.pointee.msg.map { String(cString: $0) } ?? "zlib error \(status)"
                throw damage("corrupt compressed data (\(detail))")
            }
            if made > 0 { return made }
        }
    }
}

/// Deflates into gzip format as bytes are written, through a fixed output buffer.
final class GzipOutput: ByteOutput {
    static let defaultCapacity = 256 << 10

    private let sink: ByteOutput
    private let name: String
    private let stream: UnsafeMutablePointer<z_stream>
    private let buffer: UnsafeMutablePointer<UInt8>
    private let capacity: Int
    private var ended = false

    /// `level` is zlib's 1 (fast) ... 9 (small); 6 is gzip's default.
    init(sink: ByteOutput, name: String, level: Int32 = 6, capacity: Int = GzipOutput.defaultCapacity) throws {
        self.sink = sink
        self.name = name
        self.capacity = capacity
        stream = .allocate(capacity: 1)
        stream.initialize(to: z_stream())
        buffer = .allocate(capacity: capacity)
        let status = deflateInit2_(stream, level, Z_DEFLATED, gzipWindowBits, 8, Z_DEFAULT_STRATEGY,
                                   ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size))
        guard status == Z_OK else {
            stream.deallocate()
            buffer.deallocate()
            throw TraceError(.usage, file: name, "cannot start gzip compression (zlib error \(status))")
        }
    }

    deinit {
        deflateEnd(stream)
        stream.deallocate()
        buffer.deallocate()
    }

    package var bufferCapacity: Int { capacity + sink.bufferCapacity }

    private func run(_ flush: Int32) throws -> Int32 {
        stream.pointee.next_out = buffer
        stream.pointee.avail_out = UInt32(capacity)
        let status = deflate(stream, flush)
        guard status == Z_OK || status == Z_STREAM_END || status == Z_BUF_ERROR else {
            throw TraceError(.ioError, file: name, "gzip: compression failed (zlib error \(status))")
        }
        let made = capacity - Int(stream.pointee.avail_out)
        if made > 0 {
            try sink.write(UnsafeRawBufferPointer(start: buffer, count: made))
        }
        return status
    }

    func write(_ bytes: UnsafeRawBufferPointer) throws {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return }
        stream.pointee.next_in = UnsafeMutablePointer(mutating: base.assumingMemoryBound(to: UInt8.self))
        stream.pointee.avail_in = UInt32(bytes.count)
        repeat {
            _ = try run(Z_NO_FLUSH)
        } while stream.pointee.avail_in > 0 || stream.pointee.avail_out == 0
    }

    func finish() throws {
        guard !ended else { return }
        ended = true
        stream.pointee.next_in = nil
        stream.pointee.avail_in = 0
        while try run(Z_FINISH) != Z_STREAM_END {}
        try sink.finish()
    }
}
