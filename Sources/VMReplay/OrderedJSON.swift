// A small JSON reader that keeps objects' key order (Foundation's does not): a diff lists keys in
// the order the report printed them, and partial results (`--shard`) carry reports whose key
// order is part of the output. Numbers keep their text: report counters are 64-bit integers that
// a Double would round.

public indirect enum OrderedJSON: Equatable, Sendable {
    case object([(key: String, value: OrderedJSON)])
    case array([OrderedJSON])
    case string(String)
    case number(String)
    case bool(Bool)
    case null

    public static func == (a: OrderedJSON, b: OrderedJSON) -> Bool {
        switch (a, b) {
        case (.object(let x), .object(let y)):
            return x.count == y.count && zip(x, y).allSatisfy { $0.key == $1.key && $0.value == $1.value }
        case (.array(let x), .array(let y)): return x == y
        case (.string(let x), .string(let y)), (.number(let x), .number(let y)): return x == y
        case (.bool(let x), .bool(let y)): return x == y
        case (.null, .null): return true
        default: return false
        }
    }

    public subscript(_ key: String) -> OrderedJSON? {
        guard case .object(let members) = self else { return nil }
        return members.first { $0.key == key }?.value
    }

    /// A number as a report value: integers exactly, anything else as a real.
    public var reportValue: ReportValue? {
        guard case .number(let text) = self else { return nil }
        if let i = Int64(text) { return .int(i) }
        return Double(text).map { .real($0) }
    }

    public var string: String? {
        if case .string(let s) = self { return s }
        return nil
    }

    /// An integer number (nil for anything else, reals included).
    public var int: Int64? { if case .number(let n) = self { return Int64(n) } else { return nil } }
    public var array: [OrderedJSON]? { if case .array(let a) = self { return a } else { return nil } }
    public var members: [(key: String, value: OrderedJSON)]? {
        if case .object(let m) = self { return m } else { return nil }
    }

    /// Parses one JSON text; nil if it is not valid JSON (trailing text included).
    public static func parse(_ text: String) -> OrderedJSON? { try? OrderedJSON(parsing: text) }

    /// Parses `text`; the error says at which byte it stopped.
    public init(parsing text: String) throws(OrderedJSONError) {
        var p = Parser(bytes: Array(text.utf8))
        p.skipSpace()
        self = try p.value(depth: 0)
        p.skipSpace()
        guard p.i == p.bytes.count else { throw OrderedJSONError(offset: p.i, reason: "text after the value") }
    }
}

public struct OrderedJSONError: Error, CustomStringConvertible {
    public var offset: Int
    public var reason: String
    public var description: String { "byte \(offset): \(reason)" }
}

private struct Parser {
    let bytes: [UInt8]
    var i = 0

    mutating func skipSpace() {
        while i < bytes.count, [0x20, 0x09, 0x0a, 0x0d].contains(bytes[i]) { i += 1 }
    }

    func fail(_ reason: String) -> OrderedJSONError { OrderedJSONError(offset: i, reason: reason) }

    mutating func expect(_ word: String) throws(OrderedJSONError) {
        for b in word.utf8 {
            guard i < bytes.count, bytes[i] == b else { throw fail("expected \(word)") }
            i += 1
        }
    }

    mutating func value(depth: Int) throws(OrderedJSONError) -> OrderedJSON {
        guard depth < 64 else { throw fail("nested too deep") }
        guard i < bytes.count else { throw fail("unexpected end") }
        switch bytes[i] {
        case UInt8(ascii: "{"):
            i += 1
            var members: [(key: String, value: OrderedJSON)] = []
            skipSpace()
            if i < bytes.count, bytes[i] == UInt8(ascii: "}") { i += 1; return .object(members) }
            while true {
                skipSpace()
                let key = try string()
                skipSpace()
                try expect(":")
                skipSpace()
                members.append((key, try value(depth: depth + 1)))
                skipSpace()
                guard i < bytes.count else { throw fail("unterminated object") }
                if bytes[i] == UInt8(ascii: ",") { i += 1; continue }
                try expect("}")
                return .object(members)
            }
        case UInt8(ascii: "["):
            i += 1
            var items: [OrderedJSON] = []
            skipSpace()
            if i < bytes.count, bytes[i] == UInt8(ascii: "]") { i += 1; return .array(items) }
            while true {
                skipSpace()
                items.append(try value(depth: depth + 1))
                skipSpace()
                guard i < bytes.count else { throw fail("unterminated array") }
                if bytes[i] == UInt8(ascii: ",") { i += 1; continue }
                try expect("]")
                return .array(items)
            }
        case UInt8(ascii: "\""):
            return .string(try string())
        case UInt8(ascii: "t"):
            try expect("true")
            return .bool(true)
        case UInt8(ascii: "f"):
            try expect("false")
            return .bool(false)
        case UInt8(ascii: "n"):
            try expect("null")
            return .null
        default:
            let start = i
            while i < bytes.count, "+-0123456789.eE".utf8.contains(bytes[i]) { i += 1 }
            guard i > start else { throw fail("unexpected character") }
            let text = String(decoding: bytes[start..<i], as: UTF8.self)
            guard Double(text) != nil else { i = start; throw fail("bad number") }
            return .number(text)
        }
    }

    mutating func string() throws(OrderedJSONError) -> String {
        try expect("\"")
        var out: [UInt8] = []
        while true {
            guard i < bytes.count else { throw fail("unterminated string") }
            let b = bytes[i]
            i += 1
            if b == UInt8(ascii: "\"") { return String(decoding: out, as: UTF8.self) }
            guard b == UInt8(ascii: "\\") else { out.append(b); continue }
            guard i < bytes.count else { throw fail("unterminated escape") }
            let e = bytes[i]
            i += 1
            switch e {
            case UInt8(ascii: "n"): out.append(0x0a)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "r"): out.append(0x0d)
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "f"): out.append(0x0c)
            case UInt8(ascii: "u"):
                guard i + 4 <= bytes.count, let code = UInt32(String(decoding: bytes[i..<i + 4], as: UTF8.self), radix: 16)
                else { throw fail("bad \\u escape") }
                i += 4
                // Surrogates (never in vmreplay's output) become U+FFFD.
                out += Array(String(Character(Unicode.Scalar(code) ?? "\u{FFFD}")).utf8)
            default: out.append(e)
            }
        }
    }
}
