// Reads `.vmt` records (see BinaryTraceFormat.swift and docs/trace-format.md). Hostile input
// never traps: every byte read is bounds-checked, varints are limited to 10 bytes and 64 bits,
// values are range-checked before they are narrowed, lengths are bounded.

/// Damage inside one record, at `index` of the window.
private struct RecordError: Error {
    enum Kind { case damaged(String), truncated, needBytes(Int) }
    let kind: Kind
    let index: Int
}

/// Bounds-checked reading of one record out of `p[i..<e]`.
private struct RecordReader {
    let p: UnsafeMutablePointer<UInt8>
    let e: Int
    var i: Int

    @inline(__always)
    mutating func byte() throws -> UInt8 {
        guard i < e else { throw RecordError(kind: .truncated, index: i) }
        let b = p[i]
        i += 1
        return b
    }

    @inline(__always)
    mutating func varint() throws -> UInt64 {
        guard i < e else { throw RecordError(kind: .truncated, index: i) }
        let first = p[i]
        if first < 0x80 {
            i += 1
            return UInt64(first)
        }
        let start = i
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            guard i < e else { throw RecordError(kind: .truncated, index: i) }
            let b = p[i]
            i += 1
            if shift == 63 && b > 1 {
                throw RecordError(kind: .damaged("bad varint: longer than 10 bytes or over 64 bits"), index: start)
            }
            result |= UInt64(b & 0x7f) << shift
            if b < 0x80 { return result }
            shift += 7
        }
    }

    @inline(__always)
    mutating func varint32(_ what: String) throws -> UInt32 {
        let start = i
        let v = try varint()
        guard v <= UInt64(UInt32.max) else {
            throw RecordError(kind: .damaged("\(what) \(v) is larger than \(UInt32.max)"), index: start)
        }
        return UInt32(truncatingIfNeeded: v)
    }

    func damaged(_ message: String, at index: Int) -> RecordError {
        RecordError(kind: .damaged(message), index: index)
    }
}

/// Decodes binary traces from an `InputWindow` positioned at the header.
final class BinaryTraceDecoder: EventDecoder {
    let window: InputWindow
    /// Added to byte-offset messages, e.g. "(offset in the decompressed data)".
    private let offsetNote: String
    private let table = PidAddressTable()
    @exclusivity(unchecked) private var previousPid: UInt32 = 0
    @exclusivity(unchecked) private var records: UInt64 = 0
    @exclusivity(unchecked) private var sawEnd = false

    init(window: InputWindow, compressed: Bool) throws {
        self.window = window
        offsetNote = compressed ? BinaryTraceDecoder.decompressedNote : ""
        guard try window.ensure(BinaryTrace.headerSize) else {
            throw failure("truncated header", at: window.offset(of: window.end))
        }
        let p = window.base + window.pos
        for (i, b) in BinaryTrace.magic.enumerated() where p[i] != b {
            throw failure("not a .vmt trace (bad magic)", at: window.offset(of: window.pos + i))
        }
        let version = p[8]
        guard version == BinaryTrace.version else {
            throw failure("unsupported .vmt version \(version) (this vmreplay reads version \(BinaryTrace.version))",
                          at: window.offset(of: window.pos + 8))
        }
        guard p[9] == 0 else {
            throw failure("reserved header byte is \(p[9]), expected 0", at: window.offset(of: window.pos + 9))
        }
        window.pos += BinaryTrace.headerSize
    }

    var recordNumber: UInt64 { records }

    static let decompressedNote = " (offset in the decompressed data)"

    /// Where `accessRun` decodes, a chunk at a time, for a sink that does not store packed
    /// records (`[TraceEvent]`): small enough to stay in the L1 cache while it is converted.
    /// A `ReplayBatch` is written in place instead.
    private let chunk = UnsafeMutablePointer<PackedEvent>.allocate(capacity: BinaryTraceDecoder.chunkCapacity)
    private static let chunkCapacity = 256

    /// The batch's AccessRunMap bits, set as `accessRun` decodes (taken by `takeRuns`).
    @exclusivity(unchecked) private var runBits = UnsafeMutablePointer<UInt64>.allocate(capacity: 1)
    @exclusivity(unchecked) private var runBitsCapacity = 1
    /// The open run: its page (`noRun`: none) and the kind of its latest access. Only
    /// `accessRun` extends runs; anything else ends them.
    @exclusivity(unchecked) private var runPage = BinaryTraceDecoder.noRun
    @exclusivity(unchecked) private var runKind = AccessKind.read
    private static let noRun = UInt64.max

    deinit {
        chunk.deallocate()
        runBits.deallocate()
    }

    /// The runs marked in the batch `decode` just filled (`count` events; `decode` sized the
    /// bits for its `limit` when the batch began).
    func takeRuns(count: Int, into map: inout AccessRunMap) {
        map.load(runBits, count: count)
    }

    private func failure(_ message: String, at offset: UInt64) -> TraceError {
        TraceError(.dataError, file: window.name, at: .byte(offset), message + offsetNote)
    }

    func decode(into events: inout [TraceEvent], limit: Int, validator: inout TraceValidator,
                policy: inout ErrorPolicy) throws -> Bool {
        try decode(into: &events, limit: limit, validator: &validator, policy: &policy, as: [TraceEvent].self)
    }

    /// `decode` into any sink (specialised for each: the replay's `ReplayBatch` takes the fast
    /// path's packed accesses as they are).
    @inline(__always)
    func decode<Sink: EventSink>(into events: inout Sink, limit: Int, validator: inout TraceValidator,
                                 policy: inout ErrorPolicy, as: Sink.Type = Sink.self) throws -> Bool {
        let w = window
        var need = BinaryTrace.maxFixedRecord
        if events.isEmpty {
            // A new batch: no run continues into it.
            let words = (limit + 63) / 64
            if runBitsCapacity < words {
                runBits.deallocate()
                runBits = .allocate(capacity: words)
                runBitsCapacity = words
            }
            runBits.initialize(repeating: 0, count: runBitsCapacity)
            runPage = BinaryTraceDecoder.noRun
        }
        while events.count < limit {
            if w.end - w.pos < need && !w.atEnd {
                _ = try w.ensure(need)
            }
            need = BinaryTrace.maxFixedRecord
            // The common case first: a run of plain access records by a process known live.
            if !sawEnd && validator.acceptsAccessRun(pid: previousPid) {
                let n: Int
                if let out = events.packedRoom(limit - events.count) {
                    // Straight into the batch.
                    n = accessRun(into: out, room: limit - events.count, index: events.count)
                    events.commitPacked(n)
                } else {
                    n = accessRun(into: chunk, room: min(limit - events.count, BinaryTraceDecoder.chunkCapacity),
                                  index: events.count)
                    events.append(accesses: UnsafeBufferPointer(start: chunk, count: n))
                }
                if n > 0 {
                    records &+= UInt64(n)
                    continue
                }
            }
            runPage = BinaryTraceDecoder.noRun
            let start = w.pos
            if start == w.end {
                guard sawEnd else {
                    throw failure("truncated: the trace ends without its end record", at: w.offset(of: start))
                }
                return false
            }
            if sawEnd {
                throw failure("data after the end record", at: w.offset(of: start))
            }
            var r = RecordReader(p: w.base, e: w.end, i: start)
            let event: TraceEvent
            do {
                let tag = try r.byte()
                if tag & BinaryTrace.accessBit != 0 {
                    event = .access(try decodeAccess(tag, &r))
                } else if let e = try decodeOther(tag, &r) {
                    event = e
                } else {
                    w.pos = r.i
                    continue
                }
            } catch let error as RecordError {
                switch error.kind {
                case .needBytes(let n) where !w.atEnd:
                    need = n
                    continue
                case .needBytes, .truncated:
                    throw failure("truncated record", at: w.offset(of: start))
                case .damaged(let message):
                    throw failure(message, at: w.offset(of: error.index))
                }
            }
            w.pos = r.i
            records += 1
            let problem: String?
            if case .access(let a) = event {
                problem = validator.checkAccess(a)
            } else {
                problem = validator.check(event)
            }
            if let problem {
                try policy.handle(failure("\(problem) (record \(records): \(quoteInput(event.description)))",
                                          at: w.offset(of: start)))
                continue
            }
            events.append(event, at: .byte(w.offset(of: start)))
        }
        return true
    }

    /// Access records without a pid (the previous access's process, which the caller has
    /// checked is live) and with a size the tag encodes, decoded into `out` until `room` events,
    /// a record of another kind, or the last `maxFixedRecord` bytes of the window, so every read
    /// is in bounds without a check. A record this path does not take, damaged ones included,
    /// stops the run untouched for the general path (which reports the damage). Returns the
    /// number of events written. Exactly what `decodeAccess` and `TraceValidator.checkAccess`
    /// would produce and accept; `TraceRegressionTests` and the codec tests run through it.
    /// Marks the runs of same-page accesses (AccessRunMap) on the way, `index` being the batch
    /// index of the first event written.
    private func accessRun(into out: UnsafeMutablePointer<PackedEvent>, room: Int, index: Int) -> Int {
        let w = window
        let p = w.base
        let safeEnd = w.end - BinaryTrace.maxFixedRecord
        let pid = previousPid
        let slot = table.slot(pid)
        var address = slot.pointee.address
        var delta = slot.pointee.delta
        var i = w.pos
        var n = 0
        var runPage = self.runPage
        var runKind = self.runKind
        let bits = runBits
        // The run bits of the current 64-event word, kept in a register: or-ing each into
        // memory made every event wait for the previous event's store.
        var wordIndex = index >> 6
        var pending: UInt64 = 0
        while n < room && i <= safeEnd {
            let tag = p[i]
            guard tag & (BinaryTrace.accessBit | BinaryTrace.pidBit) == BinaryTrace.accessBit,
                  let kind = AccessKind(rawValue: (tag >> 4) & 7)
            else { break }
            var j = i &+ 1
            var newDelta = delta
            if tag & BinaryTrace.deltaBit != 0 {
                var b = p[j]
                j &+= 1
                var v = UInt64(b & 0x7f)
                if b >= 0x80 && p[j] < 0x80 {
                    // Two bytes, the most common multi-byte delta.
                    v |= UInt64(p[j]) << 7
                    j &+= 1
                } else if b >= 0x80 {
                    var shift: UInt64 = 7
                    var bad = false
                    repeat {
                        b = p[j]
                        j &+= 1
                        // Over 10 bytes or 64 bits: the general path reports it.
                        if shift == 63 && b > 1 { bad = true; break }
                        v |= UInt64(b & 0x7f) << shift
                        shift &+= 7
                    } while b >= 0x80
                    if bad { break }
                }
                newDelta = unzigzag(v)
            }
            let size: UInt32
            let sizeCode = tag & BinaryTrace.sizeMask
            if sizeCode != 3 {
                // SS = 0, 1, 2 → 1, 4, 8 bytes.
                size = ((0x08_04_01 as UInt32) >> (UInt32(sizeCode) &* 8)) & 0xff
            } else {
                // An explicit size: here only one varint byte, 1...127 (0 is the validator's
                // error, longer ones the general path's).
                let b = p[j]
                guard b != 0 && b < 0x80 else { break }
                j &+= 1
                size = UInt32(b)
            }
            let newAddress = address &+ newDelta
            if size > 1 {
                // The validator's size checks (peek and poke are one byte; no wrap past 2^64).
                guard kind.hasSize, newAddress <= UInt64.max &- UInt64(size &- 1) else { break }
            }
            address = newAddress
            delta = newDelta
            out[n] = PackedEvent(address: newAddress, pid: pid, kind: kind, size: size)
            // Runs (AccessRunMap): the pid is the same throughout this loop.
            let page = newAddress / tracePageSize
            if AccessRunMap.canStartRun(kind, address: newAddress, size: size) {
                if page == runPage && AccessRunMap.vouches(runKind, for: kind) {
                    let g = index &+ n
                    if g >> 6 != wordIndex {
                        bits[wordIndex] |= pending
                        pending = 0
                        wordIndex = g >> 6
                    }
                    pending |= 1 << UInt64(g & 63)
                } else {
                    runPage = page
                }
                // Each member is vouched for by the one right before it (AccessRunMap).
                runKind = kind
            } else {
                runPage = BinaryTraceDecoder.noRun
            }
            n &+= 1
            i = j
        }
        bits[wordIndex] |= pending
        slot.pointee.address = address
        slot.pointee.delta = delta
        self.runPage = runPage
        self.runKind = runKind
        w.pos = i
        return n
    }

    @inline(__always)
    private func decodeAccess(_ tag: UInt8, _ r: inout RecordReader) throws -> Access {
        let kindValue = (tag >> 4) & 7
        guard let kind = AccessKind(rawValue: kindValue) else {
            throw r.damaged("unknown record tag 0x\(String(tag, radix: 16))", at: r.i - 1)
        }
        var pid = previousPid
        if tag & BinaryTrace.pidBit != 0 {
            pid = try r.varint32("pid")
        } else if pid == 0 {
            throw r.damaged("access record without a pid before any pid was given", at: r.i - 1)
        }
        let hasDelta = tag & BinaryTrace.deltaBit != 0
        let delta = hasDelta ? unzigzag(try r.varint()) : 0
        let size: UInt32
        switch tag & BinaryTrace.sizeMask {
        case 0: size = 1
        case 1: size = 4
        case 2: size = 8
        default: size = try r.varint32("access size")
        }
        // Only now, with the whole record read, touch the shared state.
        previousPid = pid
        let slot = table.slot(pid)
        if hasDelta { slot.pointee.delta = delta }
        let address = slot.pointee.address &+ slot.pointee.delta
        slot.pointee.address = address
        return Access(kind: kind, pid: pid, address: address, size: size)
    }

    /// Non-access records; nil for the end record.
    private func decodeOther(_ tag: UInt8, _ r: inout RecordReader) throws -> TraceEvent? {
        let tagIndex = r.i - 1
        switch tag {
        case BinaryTrace.tagEnd:
            let count = try r.varint()
            guard count == records else {
                throw r.damaged("end record counts \(count) records, the trace has \(records)", at: tagIndex)
            }
            sawEnd = true
            return nil
        case BinaryTrace.tagFile:
            let id = try r.varint32("file id")
            let size = try r.varint()
            let flagsAt = r.i
            let flags = try r.byte()
            guard flags <= 1 else { throw r.damaged("unknown file flags 0x\(String(flags, radix: 16))", at: flagsAt) }
            let lengthAt = r.i
            let length = try r.varint()
            guard length <= UInt64(TraceValidator.maxPathBytes) else {
                throw r.damaged("file path length \(length) is larger than \(TraceValidator.maxPathBytes)", at: lengthAt)
            }
            let n = Int(length)
            guard r.e - r.i >= n else {
                throw RecordError(kind: .needBytes(r.i - tagIndex + n), index: tagIndex)
            }
            let bytes = UnsafeBufferPointer(start: r.p + r.i, count: n)
            guard let path = String(validating: bytes, as: UTF8.self) else {
                throw r.damaged("file path is not valid UTF-8", at: r.i)
            }
            r.i += n
            return .file(id: id, size: size, resident: flags == 1, path: TracePath(path))
        case BinaryTrace.tagProc:
            let pid = try r.varint32("pid")
            return .proc(pid: pid, threads: try r.varint32("thread count"))
        case BinaryTrace.tagThreads:
            let pid = try r.varint32("pid")
            return .threads(pid: pid, count: try r.varint32("thread count"))
        case BinaryTrace.tagFork:
            let parent = try r.varint32("pid")
            return .fork(parent: parent, child: try r.varint32("pid"))
        case BinaryTrace.tagExec:
            return .exec(pid: try r.varint32("pid"))
        case BinaryTrace.tagExit:
            return .exit(pid: try r.varint32("pid"))
        case BinaryTrace.tagMmap:
            let (pid, address, length) = try range(&r)
            let bitsAt = r.i
            let bits = try r.varint()
            let known = BinaryTrace.mmapProtMask | BinaryTrace.mmapFlagMask | BinaryTrace.mmapHasFile
                | BinaryTrace.mmapHasOffset | BinaryTrace.mmapVPageTable
            guard bits & ~known == 0 else {
                throw r.damaged("unknown mmap flag bits 0x\(String(bits, radix: 16))", at: bitsAt)
            }
            let fileID = bits & BinaryTrace.mmapHasFile != 0 ? try r.varint32("file id") : nil
            let offset = bits & BinaryTrace.mmapHasOffset != 0 ? try r.varint() : 0
            var flags = MmapFlags(rawValue: UInt8(truncatingIfNeeded: (bits & BinaryTrace.mmapFlagMask) >> BinaryTrace.mmapFlagShift))
            if bits & BinaryTrace.mmapVPageTable != 0 { flags.insert(.vpagetable) }
            return .mmap(Mapping(pid: pid, address: address, length: length,
                                 protection: Protection(rawValue: UInt8(truncatingIfNeeded: bits & BinaryTrace.mmapProtMask)),
                                 flags: flags, fileID: fileID, offset: offset))
        case BinaryTrace.tagMunmap:
            let (pid, address, length) = try range(&r)
            return .munmap(pid: pid, address: address, length: length)
        case BinaryTrace.tagMprotect:
            let (pid, address, length) = try range(&r)
            let at = r.i
            let prot = try r.byte()
            guard prot <= 7 else { throw r.damaged("bad protection byte \(prot)", at: at) }
            return .mprotect(pid: pid, address: address, length: length, protection: Protection(rawValue: prot))
        case BinaryTrace.tagMadvise:
            let (pid, address, length) = try range(&r)
            let at = r.i
            let adviceByte = try r.byte()
            if adviceByte == BinaryTrace.adviceSetmap {
                return .setmap(pid: pid, address: address, length: length, value: try r.varint())
            }
            guard let advice = Advice(rawValue: adviceByte) else {
                throw r.damaged("bad advice byte \(r.p[at])", at: at)
            }
            return .madvise(pid: pid, address: address, length: length, advice: advice)
        case BinaryTrace.tagMlock:
            let (pid, address, length) = try range(&r)
            return .mlock(pid: pid, address: address, length: length)
        case BinaryTrace.tagMunlock:
            let (pid, address, length) = try range(&r)
            return .munlock(pid: pid, address: address, length: length)
        case BinaryTrace.tagDropCaches:
            return .dropCaches
        case BinaryTrace.tagStore:
            let pid = try r.varint32("pid")
            let address = try r.varint()
            return .store(pid: pid, address: address, value: try r.varint())
        default:
            throw r.damaged("unknown record tag 0x\(String(tag, radix: 16))", at: tagIndex)
        }
    }

    private func range(_ r: inout RecordReader) throws -> (UInt32, UInt64, UInt64) {
        let pid = try r.varint32("pid")
        let address = try r.varint()
        return (pid, address, try r.varint())
    }
}
