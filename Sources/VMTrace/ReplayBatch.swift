// The replay's batch form: events packed for the engines. An access (nearly every event of a
// trace) takes 16 bytes instead of a `TraceEvent`'s 48, so decoding writes, and every engine
// reads, a third of the memory; the few other events sit in a side array (docs/performance.md).

/// One event of an `ReplayBatch`: an access, or a reference to a non-access event.
public struct PackedEvent: Equatable, Sendable {
    /// The access's address; for a non-access event, its index in `ReplayBatch.others`.
    public var address: UInt64
    public var pid: UInt32
    /// The access kind's raw value in the top 8 bits (`PackedEvent.other` for a non-access
    /// event) and the size in the low 24.
    @usableFromInline var word: UInt32

    @usableFromInline static let other: UInt32 = 0xFF
    /// Accesses this large or larger are kept as `TraceEvent`s in `others`.
    static let sizeLimit: UInt32 = 1 << 24

    @inlinable
    init(address: UInt64, pid: UInt32, kind: AccessKind, size: UInt32) {
        self.address = address
        self.pid = pid
        word = UInt32(kind.rawValue) << 24 | size
    }

    init(otherIndex: Int) {
        address = UInt64(otherIndex)
        pid = 0
        word = PackedEvent.other << 24
    }

    /// The access kind's raw value, or `PackedEvent.other`.
    @inlinable public var kindValue: UInt8 { UInt8(truncatingIfNeeded: word >> 24) }
    /// Whether this is an access (else `address` indexes `others`).
    @inlinable public var isAccess: Bool { word >> 24 != PackedEvent.other }
    /// The access kind (an access only).
    @inlinable public var kind: AccessKind { AccessKind(rawValue: kindValue) ?? .read }
    /// The access size (an access only).
    @inlinable public var size: UInt32 { word & 0xFF_FFFF }
}

/// A batch of events in stream order, packed (see `PackedEvent`), with its runs of same-page
/// accesses marked (`AccessRunMap`). Filled by `TraceReader.nextBatch(into:)`.
public struct ReplayBatch: Sendable {
    /// Every event, in order.
    public private(set) var records: [PackedEvent] = []
    /// The non-access events (and accesses of 16 MiB or more), referenced from `records`.
    public private(set) var others: [TraceEvent] = []
    /// Which events continue a run of accesses to one page.
    public internal(set) var runs = AccessRunMap()

    public init() {}

    /// Number of events.
    public var count: Int { records.count }
    public var isEmpty: Bool { records.isEmpty }

    /// Event `i` as a `TraceEvent` (tests, and paths that are not hot).
    public func event(at i: Int) -> TraceEvent {
        let r = records[i]
        if !r.isAccess { return others[Int(r.address)] }
        return .access(Access(kind: r.kind, pid: r.pid, address: r.address, size: r.size))
    }

    /// Every event as a `TraceEvent`.
    public var events: [TraceEvent] { (0..<count).map(event(at:)) }

    mutating func removeAll() {
        records.removeAll(keepingCapacity: true)
        others.removeAll(keepingCapacity: true)
    }

    mutating func reserveCapacity(_ n: Int) { records.reserveCapacity(n) }
}

/// Where a decoder puts the events it decodes: an array of `TraceEvent`s or an `ReplayBatch`.
protocol EventSink {
    var count: Int { get }
    var isEmpty: Bool { get }
    mutating func append(_ event: TraceEvent)
    /// Accesses from the binary decoder's fast path (sizes below `PackedEvent.sizeLimit`).
    mutating func append(accesses: UnsafeBufferPointer<PackedEvent>)
}

extension Array: EventSink where Element == TraceEvent {
    mutating func append(accesses: UnsafeBufferPointer<PackedEvent>) {
        for r in accesses {
            append(.access(Access(kind: r.kind, pid: r.pid, address: r.address, size: r.size)))
        }
    }
}

extension ReplayBatch: EventSink {
    mutating func append(_ event: TraceEvent) {
        if case .access(let a) = event, a.size < PackedEvent.sizeLimit {
            records.append(PackedEvent(address: a.address, pid: a.pid, kind: a.kind, size: a.size))
        } else {
            records.append(PackedEvent(otherIndex: others.count))
            others.append(event)
        }
    }

    mutating func append(accesses: UnsafeBufferPointer<PackedEvent>) {
        records.append(contentsOf: accesses)
    }
}
