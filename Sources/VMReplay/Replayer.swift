// The replay driver: events in, kernel calls out, a report at the end. Data flows one way:
// bytes → events (VMTrace) → kernel (VMKernel) → MMU (X86MMU); the report reads counters.
import VMKernel
import VMTrace

/// What a replay runs with.
public struct ReplayConfiguration: Equatable, Sendable {
    /// The smallest `physicalMemory` the command line and goldens accept (`--phys-mem 4M`).
    public static let minimumPhysicalMemory: UInt64 = 4 << 20

    public var tunables = Tunables()
    /// Bytes of simulated RAM (`--phys-mem`); large enough by default that nothing pages.
    public var physicalMemory: UInt64 = 64 << 30
    /// Bytes of swap (`--swap`).
    public var swap: UInt64 = 0
    /// `--check-invariants`: run the engine's consistency checks (Kernel.checkInvariants) every
    /// `invariantInterval` events and at the end; a violation stops the replay with a ReplayError.
    public var checkInvariants = false
    /// Events between two invariant checks (at least 1).
    public var invariantInterval: UInt64 = 10_000

    public init(tunables: Tunables = Tunables(), physicalMemory: UInt64 = 64 << 30, swap: UInt64 = 0,
                checkInvariants: Bool = false, invariantInterval: UInt64 = 10_000)
    {
        self.tunables = tunables
        self.physicalMemory = physicalMemory
        self.swap = swap
        self.checkInvariants = checkInvariants
        self.invariantInterval = invariantInterval
    }
}

/// An error the kernel raised while applying an event the trace layer accepted, or an
/// engine bug an audit found.
public struct ReplayError: Error, CustomStringConvertible {
    public var eventNumber: UInt64
    public var message: String
    /// Where the event is in its trace, when its batch said (`ReplayBatch.otherLocations`):
    /// the kernel's refusals of non-access events. `TraceReader.dataError(_:)` names it.
    public var location: TraceError.Location = .none
    public var description: String { "event \(eventNumber): \(message)" }
}

/// Replays events into one simulated machine.
/// Not thread-safe, but it may move between threads: a sweep drives each engine from one
/// worker at a time (concurrentPerform over disjoint engines per batch, joined before the next).
public final class Replayer: @unchecked Sendable {
    public let configuration: ReplayConfiguration
    public let kernel: Kernel
    @exclusivity(unchecked) public private(set) var events: UInt64 = 0
    /// Events for processes the OOM killer had ended (skipped).
    @exclusivity(unchecked) public private(set) var eventsAfterKill: UInt64 = 0
    /// `--keep-going`: an event the kernel refuses is counted in `rejected` and skipped, not
    /// an error that ends the replay.
    public var keepGoing = false
    /// Events the kernel refused under `keepGoing`: how many, and the first few.
    public private(set) var rejected = 0
    public private(set) var rejectedSamples: [ReplayError] = []
    private var finished = false
    /// `proc.PID.comm` for the report.
    public private(set) var processNames = ProcessNames()
    /// The first SIGSEGVs (SigsegvSamples.swift).
    var sigsegvSamples: [SigsegvSample] = []
    /// Attribution and timeline (`replay --by`, `--timeline`), told of each non-access event.
    public internal(set) var insight: InsightRecorder?

    public init(_ configuration: ReplayConfiguration) throws(SysctlError) {
        self.configuration = configuration
        kernel = try Kernel(tunables: configuration.tunables,
                            physicalMemory: configuration.physicalMemory, swap: configuration.swap)
        if configuration.checkInvariants {
            nextInvariantCheck = max(configuration.invariantInterval, 1)
            kernel.auditAccesses = true
        }
        recordSigsegvSamples()
    }

    /// The event count after which the next invariant check runs (never, without checking).
    @exclusivity(unchecked) private var nextInvariantCheck = UInt64.max

    /// Runs the engine's invariant checks now; a violation is a ReplayError naming the invariant.
    public func checkInvariants() throws(ReplayError) {
        do {
            try kernel.checkInvariants()
        } catch {
            throw ReplayError(eventNumber: events, message: "engine bug: \(error.description)")
        }
    }

    @inline(never)
    private func periodicInvariantCheck() throws(ReplayError) {
        nextInvariantCheck = events &+ max(configuration.invariantInterval, 1)
        try checkInvariants()
    }

    /// Applies one event.
    @inline(__always)
    public func apply(_ event: TraceEvent) throws(ReplayError) {
        try apply(event, at: .none)
    }

    /// Applies one event found at `location` in its trace (named if the kernel refuses it).
    @inline(__always)
    public func apply(_ event: TraceEvent, at location: TraceError.Location) throws(ReplayError) {
        if case .access(let a) = event {
            try applyAccess(pid: a.pid, address: a.address, size: a.size, type: a.kind.accessType)
        } else {
            try applyNonAccess(event, at: location)
        }
    }

    /// An access event.
    @inline(__always)
    private func applyAccess(pid: UInt32, address: UInt64, size: UInt32, type: AccessType) throws(ReplayError) {
        if events == nextInvariantCheck { try periodicInvariantCheck() }
        events &+= 1
        do {
            try kernel.access(pid: pid, address: address, size: size, type: type)
        } catch .killed {
            // The OOM killer ended this process; the rest of its trace cannot happen.
            eventsAfterKill &+= 1
        } catch {
            try refuse(error, at: .none)
        }
        if configuration.checkInvariants, let failure = kernel.auditFailure {
            throw ReplayError(eventNumber: events, message: "engine bug: \(failure.description)")
        }
    }

    /// The rest of a run, counted in one step by `Kernel.accessRepeats`, audited access by
    /// access as if each had been applied alone (`--check-invariants`).
    @inline(never)
    private func auditRepeats(_ records: UnsafeBufferPointer<PackedEvent>, _ range: Range<Int>) throws(ReplayError) {
        for j in range {
            let r = records[j]
            let type = AccessType(rawValue: r.kindValue).unsafelyUnwrapped
            do {
                try kernel.auditCompletedAccess(pid: r.pid, page: r.address & ~UInt64(4095), type: type)
            } catch {
                throw ReplayError(eventNumber: events &- UInt64(range.upperBound &- 1 &- j),
                                  message: "engine bug: \(error.description)")
            }
        }
    }

    /// Any other event.
    @inline(never)
    private func applyNonAccess(_ event: TraceEvent, at location: TraceError.Location) throws(ReplayError) {
        if events == nextInvariantCheck { try periodicInvariantCheck() }
        events &+= 1
        processNames.observe(event)
        do {
            try applyOther(event)
            insight?.didApply(event, number: events)
        } catch .killed {
            eventsAfterKill &+= 1
        } catch {
            try refuse(error, at: location)
        }
    }

    /// A kernel error for the current event: the replay's end, or under `keepGoing` a skip.
    @inline(never)
    private func refuse(_ error: KernelError, at location: TraceError.Location) throws(ReplayError) {
        let refusal = ReplayError(eventNumber: events, message: error.description, location: location)
        guard keepGoing else { throw refusal }
        rejected += 1
        if rejectedSamples.count < 5 { rejectedSamples.append(refusal) }
    }

    /// Applies a batch of events (the hot loop: events are read in place, not copied out).
    public func apply(_ batch: [TraceEvent]) throws(ReplayError) {
        try batch.withUnsafeBufferPointer { (events: UnsafeBufferPointer<TraceEvent>) throws(ReplayError) in
            for i in events.indices { try apply(events[i]) }
        }
    }

    /// Applies a packed batch (the replay's hot loop). After the first access of a run of
    /// accesses to one page (`batch.runs`, see `AccessRunMap`), the rest are counted in one
    /// step when the kernel finds they would all be plain TLB hits (`Kernel.accessRepeats`),
    /// and applied one by one otherwise. The counters come out exactly as with `apply(_:)`
    /// over the same events.
    public func apply(_ batch: ReplayBatch) throws(ReplayError) {
        let useRuns = batch.runs.count == batch.count
        let checking = configuration.checkInvariants
        let others = batch.others
        let locations = batch.otherLocations
        let records = batch.records
        try withExtendedLifetime(batch) { () throws(ReplayError) in
            try batch.runs.words.withUnsafeBufferPointer { (words: UnsafeBufferPointer<UInt64>) throws(ReplayError) in
                var i = 0
                let n = records.count
                while i < n {
                    let r = records[i]
                    i &+= 1
                    guard r.isAccess else {
                        let k = Int(truncatingIfNeeded: r.address)
                        try applyNonAccess(others[k], at: locations[k])
                        continue
                    }
                    // AccessKind and AccessType share their raw values.
                    let type = AccessType(rawValue: r.kindValue).unsafelyUnwrapped
                    try applyAccess(pid: r.pid, address: r.address, size: r.size, type: type)
                    guard useRuns else { continue }
                    var run = AccessRunMap.runLength(after: i &- 1, in: words, count: n)
                    // With invariant checks every N events, a run stops short of the next check.
                    if checking { run = Int(min(UInt64(run), nextInvariantCheck &- events)) }
                    if run != 0 && kernel.accessRepeats(pid: r.pid, address: r.address, type: type, count: UInt64(run)) {
                        events &+= UInt64(run)
                        if checking { try auditRepeats(records, i ..< i &+ run) }
                        i &+= run
                    }
                }
            }
        }
    }

    private func applyOther(_ event: TraceEvent) throws(KernelError) {
        switch event {
        case .access(let a):
            // An access too large to pack (PackedEvent.sizeLimit) comes here from a batch's others.
            try kernel.access(pid: a.pid, address: a.address, size: a.size, type: a.kind.accessType)
        case .file(let id, let size, let resident, let path):
            try kernel.declareFile(id: id, size: size, resident: resident, path: path.string)
        case .proc(let pid, let threads):
            try kernel.createProcess(pid: pid, threads: threads)
        case .threads(let pid, let count):
            try kernel.setThreads(pid: pid, count: count)
        case .fork(let parent, let child):
            try kernel.fork(parent: parent, child: child)
        case .exec(let pid):
            try kernel.exec(pid: pid)
        case .exit(let pid):
            try kernel.exit(pid: pid)
        case .mmap(let m):
            try kernel.mmap(pid: m.pid, MmapRequest(
                address: m.address, length: m.length, protection: VMProt(rawValue: m.protection.rawValue),
                shared: m.flags.contains(.shared), fileID: m.fileID, offset: m.offset,
                stack: m.flags.contains(.stack), nosync: m.flags.contains(.nosync),
                device: m.flags.contains(.device), uksmap: m.flags.contains(.uksmap),
                vpagetable: m.flags.contains(.vpagetable)))
        case .munmap(let pid, let address, let length):
            try kernel.munmap(pid: pid, address: address, length: length)
        case .mprotect(let pid, let address, let length, let protection):
            try kernel.mprotect(pid: pid, address: address, length: length,
                                protection: VMProt(rawValue: protection.rawValue))
        case .madvise(let pid, let address, let length, let advice):
            try kernel.madvise(pid: pid, address: address, length: length, advice: advice.kernelAdvice)
        case .mlock(let pid, let address, let length):
            try kernel.mlock(pid: pid, address: address, length: length)
        case .munlock(let pid, let address, let length):
            try kernel.munlock(pid: pid, address: address, length: length)
        case .dropCaches:
            kernel.dropCaches()
        case .setmap(let pid, let address, let length, let value):
            try kernel.madviseSetmap(pid: pid, address: address, length: length, value: value)
        case .store(let pid, let address, let value):
            try kernel.store(pid: pid, address: address, value: value)
        }
    }

    /// Ends the replay (prefaulted pages still untouched count as unused) and builds the report.
    public func finish() -> Report {
        if !finished {
            kernel.finish()
            finished = true
        }
        var report = ReportBuilder.build(configuration: configuration, kernel: kernel, events: events,
                                         eventsAfterKill: eventsAfterKill)
        report.processNames = processNames.byPid
        report.sigsegvSamples = sigsegvSamples
        return report
    }
}

extension AccessKind {
    var accessType: AccessType {
        switch self {
        case .read: return .read
        case .write: return .write
        case .execute: return .execute
        case .kernelRead: return .kernelRead
        case .kernelWrite: return .kernelWrite
        case .peek: return .peek
        case .poke: return .poke
        }
    }
}

extension Advice {
    var kernelAdvice: MadviseAdvice {
        switch self {
        case .normal: return .normal
        case .random: return .random
        case .sequential: return .sequential
        case .willneed: return .willneed
        case .dontneed: return .dontneed
        case .free: return .free
        case .inval: return .inval
        }
    }
}
