// The one error type of the trace layer. Every failure a user can cause (bad input, missing
// files, unwritable output) ends up here with a sysexits(3) code, so the command line can print
// it and exit with the right status.

/// An error with a sysexits(3) exit status, a file name and a position in that file.
///
/// `description` is the message the command line prints:
/// - `vmreplay: FILE:LINE: message` for problems in a text trace (line numbers start at 1),
/// - `vmreplay: FILE: byte OFFSET: message` for damage in binary or gzip data
///   (offsets start at 0),
/// - `vmreplay: FILE: message` / `vmreplay: message` otherwise.
public struct TraceError: Error, Equatable, Sendable, CustomStringConvertible {
    /// sysexits(3) codes; `rawValue` is the process exit status.
    public enum Code: Int32, Sendable {
        /// EX_USAGE: the command was used incorrectly.
        case usage = 64
        /// EX_DATAERR: the input trace is malformed.
        case dataError = 65
        /// EX_NOINPUT: an input file is missing or unreadable.
        case noInput = 66
        /// EX_CANTCREAT: an output file cannot be created.
        case cannotCreate = 73
        /// EX_IOERR: reading or writing failed.
        case ioError = 74
    }

    /// Where in `file` the problem is.
    public enum Location: Equatable, Sendable {
        case none
        /// A 1-based line of a text trace.
        case line(Int)
        /// A 0-based byte offset (compressed offset for gzip damage, decoded offset for
        /// damage inside a binary trace).
        case byte(UInt64)
    }

    public var code: Code
    /// The file's display name (`<stdin>` for `-`), if the error belongs to a file.
    public var file: String?
    public var location: Location
    /// The message without the `vmreplay: FILE:...:` prefix.
    public var message: String

    public init(_ code: Code, file: String? = nil, at location: Location = .none, _ message: String) {
        self.code = code
        self.file = file
        self.location = location
        self.message = message
    }

    /// The process exit status (64, 65, 66, 73 or 74).
    public var exitCode: Int32 { code.rawValue }

    /// The line number, when the error is located by line.
    public var line: Int? {
        if case .line(let n) = location { return n }
        return nil
    }

    /// The byte offset, when the error is located by byte.
    public var byteOffset: UInt64? {
        if case .byte(let n) = location { return n }
        return nil
    }

    public var description: String {
        var text = "vmreplay: "
        if let file {
            text += file
            switch location {
            case .none: break
            case .line(let n): text += ":\(n)"
            case .byte(let n): text += ": byte \(n)"
            }
            text += ": "
        }
        return text + message
    }
}

/// The name used in messages for a path given on the command line.
@inline(__always)
package func displayName(forPath path: String) -> String {
    path == "-" ? "<stdin>" : path
}

/// `s` escaped for a double-quoted JSON string: `"` and `\` backslashed, control characters
/// as `\n`, `\t`, `\r` or `\u00XX`.
public func jsonEscaped(_ s: String) -> String {
    var out = ""
    for ch in s.unicodeScalars {
        switch ch {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        case "\t": out += "\\t"
        case "\r": out += "\\r"
        default:
            if ch.value < 0x20 || ch.value == 0x7f {
                let h = String(ch.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - h.count) + h
            } else {
                out.unicodeScalars.append(ch)
            }
        }
    }
    return out
}

/// `s` as a JSON string literal, quotes included.
public func jsonStringLiteral(_ s: String) -> String { "\"" + jsonEscaped(s) + "\"" }

/// Quotes a piece of input for an error message: at most `limit` characters, control
/// characters escaped, invalid UTF-8 repaired.
package func quoteInput(_ bytes: UnsafeBufferPointer<UInt8>, limit: Int = 160) -> String {
    quoteInput(String(decoding: bytes, as: UTF8.self), limit: limit)
}

/// Quotes a string for an error message (see above).
package func quoteInput(_ text: String, limit: Int = 160) -> String {
    guard text.count > limit else { return jsonStringLiteral(text) }
    return "\"" + jsonEscaped(String(text.prefix(limit))) + "...\""
}
