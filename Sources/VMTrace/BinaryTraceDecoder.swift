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
    private var previousPid: UInt32 = 0
    private var records: UInt64 = 0
    private var sawEnd = false

    init(window: InputWindow, compressed: Bool) throws {
        self.window = window
        offsetNote = compressed ? " (offset in the decompressed data)" : ""
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

    private func failure(_ message: String, at offset: UInt64) -> TraceError {
        TraceError(.dataError, file: window.name, at: .byte(offset), message + offsetNote)
    }

    func decode(into events: inout [TraceEvent], limit: Int, validator: inout TraceValidator,
                policy: inout ErrorPolicy) throws -> Bool {
        let w = window
        var need = BinaryTrace.maxFixedRecord
        while events.count < limit {
            if w.end - w.pos < need && !w.atEnd {
                _ = try w.ensure(need)
            }
            need = BinaryTrace.maxFixedRecord
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
            events.append(event)
        }
        return true
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
            let known = BinaryTrace.mmapProtMask | BinaryTrace.mmapFlagMask | BinaryTrace.mmapHasFile | BinaryTrace.mmapHasOffset
            guard bits & ~known == 0 else {
                throw r.damaged("unknown mmap flag bits 0x\(String(bits, radix: 16))", at: bitsAt)
            }
            let fileID = bits & BinaryTrace.mmapHasFile != 0 ? try r.varint32("file id") : nil
            let offset = bits & BinaryTrace.mmapHasOffset != 0 ? try r.varint() : 0
            let flags = MmapFlags(rawValue: UInt8(truncatingIfNeeded: (bits & BinaryTrace.mmapFlagMask) >> BinaryTrace.mmapFlagShift))
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
            guard let advice = Advice(rawValue: try r.byte()) else {
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
