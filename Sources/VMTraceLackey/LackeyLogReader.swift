// Reading a Valgrind log line by line in constant memory: the file (gzip or not, detected by
// its magic bytes) is pulled through the same buffers the trace readers use, and each line is
// handed out as bytes inside the window, valid until the next call.
import VMTrace

import Glibc

/// One line of a log, without its newline.
struct LackeyLogLine {
    var bytes: UnsafeBufferPointer<UInt8>
    /// 1-based line number in the file.
    var number: Int
    /// False for a last line that the file ends in the middle of (no newline).
    var terminated: Bool
}

/// Splits a log into lines. Lines longer than the window (1 MiB) are a data error.
final class LackeyLogReader {
    let path: String
    /// The name used in messages.
    let name: String
    private let file: FileInput
    private let input: ByteInput
    private let window: InputWindow
    private(set) var lineNumber = 0

    init(path: String) throws {
        self.path = path
        name = displayName(forPath: path)
        file = try FileInput(path: path)
        input = hasGzipMagic(try file.peek(2)) ? try GzipInput(file: file) : file
        window = InputWindow(input: input, name: name)
    }

    /// Bytes of the file consumed so far (compressed bytes for gzip).
    var fileBytesRead: UInt64 { input.fileBytesConsumed }

    /// The next line, or nil at the end of the file.
    func next() throws -> LackeyLogLine? {
        var scanned = 0
        while true {
            let start = window.base + window.pos
            let available = window.available
            if available > scanned,
               let nl = memchr(start + scanned, 10, available - scanned)
            {
                let length = nl.assumingMemoryBound(to: UInt8.self) - start
                window.pos += length + 1
                lineNumber += 1
                return LackeyLogLine(bytes: UnsafeBufferPointer(start: start, count: length),
                                     number: lineNumber, terminated: true)
            }
            scanned = available
            if try !window.refill() {
                if window.available == window.capacity {
                    lineNumber += 1
                    throw TraceError(.dataError, file: name, at: .line(lineNumber),
                                     "line longer than \(window.capacity) bytes")
                }
                if window.available == 0 { return nil }
                // The file ends without a newline: hand out what is left as an unterminated line.
                let rest = UnsafeBufferPointer(start: window.base + window.pos, count: window.available)
                window.pos = window.end
                lineNumber += 1
                return LackeyLogLine(bytes: rest, number: lineNumber, terminated: false)
            }
            // refill() moved the unparsed bytes to the front; what was scanned stays scanned.
        }
    }
}
