// A `file` event's display path, interned. Every other event is plain data; with the path
// interned, `TraceEvent` is too, so batches of events are copied and cleared as plain memory —
// no reference counting and no per-element destruction on the decode-to-replay hot path
// (docs/performance.md).

import Foundation

/// A file path as a small id into a process-wide table of the distinct paths seen.
public struct TracePath: Hashable, Sendable, Comparable, ExpressibleByStringLiteral,
    ExpressibleByStringInterpolation, CustomStringConvertible
{
    let id: UInt32

    public init(_ path: String) { id = TracePathTable.shared.intern(path) }
    public init(stringLiteral path: String) { self.init(path) }
    public init(stringInterpolation: DefaultStringInterpolation) {
        self.init(String(stringInterpolation: stringInterpolation))
    }

    /// The path itself.
    public var string: String { TracePathTable.shared.string(id) }
    public var description: String { string }
    public var utf8: String.UTF8View { string.utf8 }
    public var isEmpty: Bool { id == 0 }

    public static func < (a: TracePath, b: TracePath) -> Bool { a.string < b.string }
}

/// The intern table: grows by one entry per distinct path (a trace declares few files).
final class TracePathTable: @unchecked Sendable {
    static let shared = TracePathTable()

    private let lock = NSLock()
    private var strings: [String] = [""] // id 0 is the empty path
    private var ids: [String: UInt32] = ["": 0]

    func intern(_ s: String) -> UInt32 {
        lock.lock()
        defer { lock.unlock() }
        if let id = ids[s] { return id }
        let id = UInt32(strings.count)
        strings.append(s)
        ids[s] = id
        return id
    }

    func string(_ id: UInt32) -> String {
        lock.lock()
        defer { lock.unlock() }
        return Int(id) < strings.count ? strings[Int(id)] : ""
    }
}
