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

/// Storage the binary decoder writes packed records into in place (no copy through a
/// staging buffer). Owned by one `ReplayBatch` at a time; the pipeline hands batches between
/// threads, never shares one being written.
final class PackedStorage: @unchecked Sendable {
    @exclusivity(unchecked) private(set) var base: UnsafeMutablePointer<PackedEvent>
    @exclusivity(unchecked) private(set) var capacity: Int
    @exclusivity(unchecked) var count = 0

    init() {
        capacity = 16
        base = .allocate(capacity: capacity)
    }

    deinit { base.deallocate() }

    /// Room for `n` more records after `count`.
    func reserve(_ n: Int) {
        guard count + n > capacity else { return }
        let newCapacity = max(capacity * 2, count + n)
        let grown = UnsafeMutablePointer<PackedEvent>.allocate(capacity: newCapacity)
        grown.moveInitialize(from: base, count: count)
        base.deallocate()
        base = grown
        capacity = newCapacity
    }

    func append(_ record: PackedEvent) {
        reserve(1)
        (base + count).initialize(to: record)
        count += 1
    }

    var records: UnsafeBufferPointer<PackedEvent> { UnsafeBufferPointer(start: base, count: count) }
}

/// A batch of events in stream order, packed (see `PackedEvent`), with its runs of same-page
/// accesses marked (`AccessRunMap`). Filled by `TraceReader.nextBatch(into:)`.
public struct ReplayBatch: @unchecked Sendable {
    private var storage = PackedStorage()

    /// Every event, in order (valid while the batch is neither changed nor released).
    public var records: UnsafeBufferPointer<PackedEvent> { storage.records }
    /// The non-access events (and accesses of 16 MiB or more), referenced from `records`.
    public private(set) var others: [TraceEvent] = []
    /// Where each of `others` is in the trace (a text line, or the byte offset of a binary
    /// record in the decoded stream; `.none` for events not read from a file), so an event the
    /// kernel refuses can be named like the trace layer's own errors. Accesses are not located.
    public private(set) var otherLocations: [TraceError.Location] = []
    /// Which events continue a run of accesses to one page.
    public internal(set) var runs = AccessRunMap()

    public init() {}

    /// A batch holding `events`, with their runs marked (for library users and tests; the
    /// reader fills batches itself).
    public init(_ events: [TraceEvent]) {
        load(events)
    }

    /// Replaces the batch with `events`, runs marked.
    mutating func load(_ events: [TraceEvent]) {
        removeAll()
        for event in events { append(event, at: .none) }
        runs.mark(events)
    }

    /// Marks the batch's runs from its records (for decoders that do not mark them as they
    /// go). Accesses kept in `others` never take part in a run, as with `mark(_:)` (their size
    /// crosses a page).
    mutating func markRuns() {
        let records = storage.records
        runs.mark(count: records.count) { i in
            let r = records[i]
            return r.isAccess ? Access(kind: r.kind, pid: r.pid, address: r.address, size: r.size) : nil
        }
    }

    /// Number of events.
    public var count: Int { storage.count }
    public var isEmpty: Bool { storage.count == 0 }

    /// Event `i` as a `TraceEvent` (tests, and paths that are not hot).
    public func event(at i: Int) -> TraceEvent {
        let r = records[i]
        if !r.isAccess { return others[Int(r.address)] }
        return .access(Access(kind: r.kind, pid: r.pid, address: r.address, size: r.size))
    }

    /// Where event `i` is in the trace, if the batch knows (see `otherLocations`).
    public func location(at i: Int) -> TraceError.Location {
        let r = records[i]
        return r.isAccess ? .none : otherLocations[Int(r.address)]
    }

    /// Whether event `i` is an access (packed, or one too large to pack, kept in `others`).
    public func isAccess(at i: Int) -> Bool {
        let r = records[i]
        if r.isAccess { return true }
        if case .access = others[Int(r.address)] { return true }
        return false
    }

    /// Every event as a `TraceEvent`.
    public var events: [TraceEvent] { (0..<count).map(event(at:)) }

    mutating func removeAll() {
        storage.count = 0
        others.removeAll(keepingCapacity: true)
        otherLocations.removeAll(keepingCapacity: true)
    }
}

/// Where a decoder puts the events it decodes: an array of `TraceEvent`s or an `ReplayBatch`.
protocol EventSink {
    var count: Int { get }
    var isEmpty: Bool { get }
    /// `location`: where the event is in the trace (kept for events a batch does not pack).
    mutating func append(_ event: TraceEvent, at location: TraceError.Location)
    /// Accesses from the binary decoder's fast path (sizes below `PackedEvent.sizeLimit`).
    mutating func append(accesses: UnsafeBufferPointer<PackedEvent>)
    /// Where the next `n` packed accesses can be written in place (then `commitPacked`), or
    /// nil if this sink does not store packed records.
    mutating func packedRoom(_ n: Int) -> UnsafeMutablePointer<PackedEvent>?
    mutating func commitPacked(_ n: Int)
}

extension Array: EventSink where Element == TraceEvent {
    mutating func append(_ event: TraceEvent, at location: TraceError.Location) { append(event) }
    mutating func packedRoom(_ n: Int) -> UnsafeMutablePointer<PackedEvent>? { nil }
    mutating func commitPacked(_ n: Int) {}

    mutating func append(accesses: UnsafeBufferPointer<PackedEvent>) {
        for r in accesses {
            append(.access(Access(kind: r.kind, pid: r.pid, address: r.address, size: r.size)))
        }
    }
}

extension ReplayBatch: EventSink {
    mutating func append(_ event: TraceEvent, at location: TraceError.Location) {
        if case .access(let a) = event, a.size < PackedEvent.sizeLimit {
            storage.append(PackedEvent(address: a.address, pid: a.pid, kind: a.kind, size: a.size))
        } else {
            storage.append(PackedEvent(otherIndex: others.count))
            others.append(event)
            otherLocations.append(location)
        }
    }

    mutating func append(accesses: UnsafeBufferPointer<PackedEvent>) {
        storage.reserve(accesses.count)
        (storage.base + storage.count).initialize(from: accesses.baseAddress.unsafelyUnwrapped, count: accesses.count)
        storage.count += accesses.count
    }

    mutating func packedRoom(_ n: Int) -> UnsafeMutablePointer<PackedEvent>? {
        storage.reserve(n)
        return storage.base + storage.count
    }

    mutating func commitPacked(_ n: Int) { storage.count += n }
}
