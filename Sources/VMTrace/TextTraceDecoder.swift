// The `vmtrace 1` text reader (SPEC §1). Lines are parsed straight out of the input window's
// bytes: no String is made for a well-formed line except a file's path, so access lines go at
// memory speed.

import Glibc

/// A problem with one line; `--keep-going` can skip it.
struct LineError: Error {
    let message: String
    init(_ message: String) { self.message = message }
}

private let space: UInt8 = 32, tab: UInt8 = 9, cr: UInt8 = 13, hash: UInt8 = 35, newline: UInt8 = 10

@inline(__always)
private func isBlank(_ c: UInt8) -> Bool { c == space || c == tab || c == cr }

/// Walks the tokens of one line `p[i..<e]`. A `#` ends the line's content.
struct LineScanner {
    let p: UnsafePointer<UInt8>
    let e: Int
    var i: Int
    /// Hex digit values by byte, 0xff for non-digits (`hexDigitTable`).
    let digits: UnsafePointer<UInt8>

    @inline(__always)
    mutating func skipBlanks() {
        while i < e && isBlank(p[i]) { i += 1 }
    }

    /// The next token, or nil at the end of the line's content.
    @inline(__always)
    mutating func token() -> Range<Int>? {
        skipBlanks()
        guard i < e, p[i] != hash else { return nil }
        let start = i
        while i < e {
            let c = p[i]
            if isBlank(c) || c == hash { break }
            i += 1
        }
        return start..<i
    }

    func text(_ r: Range<Int>) -> String {
        String(decoding: UnsafeBufferPointer(start: p + r.lowerBound, count: r.count), as: UTF8.self)
    }

    /// Token `r` for an error message: at most its first 64 bytes (a 900 KB token was echoed whole).
    func clipped(_ r: Range<Int>) -> String {
        r.count <= 64 ? text(r) : text(r.lowerBound..<r.lowerBound + 64) + "..."
    }

    @inline(__always)
    func tokenIs(_ r: Range<Int>, _ s: StaticString) -> Bool {
        r.count == s.utf8CodeUnitCount && memcmp(p + r.lowerBound, s.utf8Start, r.count) == 0
    }

    /// Whether the token starts with `prefix` (then `r` minus the prefix is the value).
    @inline(__always)
    func tokenHasPrefix(_ r: Range<Int>, _ prefix: StaticString) -> Bool {
        r.count >= prefix.utf8CodeUnitCount && memcmp(p + r.lowerBound, prefix.utf8Start, prefix.utf8CodeUnitCount) == 0
    }

    /// Parses `p[r]` (one whole token) as a number; see `number(_:suffix:)`.
    func number(_ r: Range<Int>, _ what: StaticString, suffix: Bool) throws -> UInt64 {
        var sub = LineScanner(p: p, e: r.upperBound, i: r.lowerBound, digits: digits)
        return try sub.number(what, suffix: suffix)
    }

    /// Parses the next token as a number and moves past it: decimal or `0x` hex, with a
    /// binary `K`/`M`/`G` suffix when `suffix` is allowed. Missing, malformed or over 64 bits
    /// → error naming the field.
    @inline(__always)
    mutating func number(_ what: StaticString, suffix: Bool = false) throws -> UInt64 {
        skipBlanks()
        guard i < e, p[i] != hash else { throw LineError("missing \(what)") }
        let start = i
        var v: UInt64 = 0
        if p[i] == 48 && i + 1 < e && (p[i + 1] | 0x20) == 120 {
            i += 2
            let first = i
            while i < e {
                let d = digits[Int(p[i])]
                if d > 15 { break }
                v = v << 4 | UInt64(d)
                i += 1
            }
            if i == first { throw bad(start, what) }
            if i - first > 16 {
                var z = first
                while z < i && p[z] == 48 { z += 1 }
                if i - z > 16 { throw overflow(start, what) }
            }
        } else {
            let first = i
            while i < e {
                let d = p[i] &- 48
                if d > 9 { break }
                v = v &* 10 &+ UInt64(d)
                i += 1
            }
            if i == first { throw bad(start, what) }
            if i - first > 19 { v = try checkedDecimal(first, what) }
        }
        if i < e {
            let c = p[i]
            if !isBlank(c) && c != hash {
                guard suffix, i + 1 == e || isBlank(p[i + 1]) || p[i + 1] == hash else { throw bad(start, what) }
                let shift: UInt64
                switch c | 0x20 {
                case 107: shift = 10  // K
                case 109: shift = 20  // M
                case 103: shift = 30  // G
                default: throw bad(start, what)
                }
                if v >> (64 - shift) != 0 { throw overflow(start, what) }
                v <<= shift
                i += 1
            }
        }
        return v
    }

    /// The decimal digits `p[first..<i]` with overflow checks (more than 19 digits).
    private func checkedDecimal(_ first: Int, _ what: StaticString) throws -> UInt64 {
        var v: UInt64 = 0
        for j in first..<i {
            let (m, o1) = v.multipliedReportingOverflow(by: 10)
            let (s, o2) = m.addingReportingOverflow(UInt64(p[j] &- 48))
            if o1 || o2 { throw overflow(first, what) }
            v = s
        }
        return v
    }

    /// The whole token starting at `start`.
    private func tokenText(from start: Int) -> String {
        var j = start
        while j < e && !isBlank(p[j]) && p[j] != hash { j += 1 }
        return clipped(start..<j)
    }

    func bad(_ start: Int, _ what: StaticString) -> LineError {
        LineError("bad \(what) '\(tokenText(from: start))'")
    }

    func overflow(_ start: Int, _ what: StaticString) -> LineError {
        LineError("\(what) '\(tokenText(from: start))' does not fit in 64 bits")
    }

    /// The next token as a 32-bit number.
    @inline(__always)
    mutating func number32(_ what: StaticString, suffix: Bool = false) throws -> UInt32 {
        skipBlanks()
        let start = i
        let v = try number(what, suffix: suffix)
        guard v <= UInt64(UInt32.max) else {
            throw LineError("\(what) '\(tokenText(from: start))' is larger than \(UInt32.max)")
        }
        return UInt32(truncatingIfNeeded: v)
    }

    /// `number32` over one whole token `p[r]`.
    func number32(_ r: Range<Int>, _ what: StaticString, suffix: Bool = false) throws -> UInt32 {
        var sub = LineScanner(p: p, e: r.upperBound, i: r.lowerBound, digits: digits)
        return try sub.number32(what, suffix: suffix)
    }

    mutating func protection() throws -> Protection {
        guard let r = token() else { throw LineError("missing PROT") }
        var v: UInt8 = 0
        if r.count == 3 {
            let a = p[r.lowerBound], b = p[r.lowerBound + 1], c = p[r.lowerBound + 2]
            if a == 114 { v |= 1 } else if a != 45 { v = 0xff }
            if b == 119 { v |= 2 } else if b != 45 { v = 0xff }
            if c == 120 { v |= 4 } else if c != 45 { v = 0xff }
        } else {
            v = 0xff
        }
        guard v != 0xff else {
            throw LineError("bad PROT '\(clipped(r))' (three characters: r or -, w or -, x or -)")
        }
        return Protection(rawValue: v)
    }

    /// Fails unless only blanks or a comment are left.
    @inline(__always)
    mutating func expectEnd() throws {
        if let r = token() { throw LineError("unexpected '\(clipped(r))'") }
    }
}

/// Hex digit values by byte (0xff for non-digits); one per decoder, so the hot loop reads
/// it through a plain pointer.
func makeHexDigitTable() -> UnsafeMutablePointer<UInt8> {
    let t = UnsafeMutablePointer<UInt8>.allocate(capacity: 256)
    t.initialize(repeating: 0xff, count: 256)
    for c in 0..<10 { t[48 + c] = UInt8(c) }
    for c in 0..<6 {
        t[97 + c] = UInt8(10 + c)
        t[65 + c] = UInt8(10 + c)
    }
    return t
}

/// Decodes text traces from an `InputWindow`.
final class TextTraceDecoder: EventDecoder {
    let window: InputWindow
    @exclusivity(unchecked) private(set) var lineNumber = 0
    @exclusivity(unchecked) private var sawHeader = false

    private let digits = makeHexDigitTable()

    init(window: InputWindow) {
        self.window = window
    }

    deinit { digits.deallocate() }

    var recordNumber: UInt64 { UInt64(lineNumber) }

    func decode(into events: inout [TraceEvent], limit: Int, validator: inout TraceValidator,
                policy: inout ErrorPolicy) throws -> Bool {
        try decode(into: &events, limit: limit, validator: &validator, policy: &policy, as: [TraceEvent].self)
    }

    /// `decode` into any sink (a replay's `ReplayBatch` keeps the line of each event it does
    /// not pack).
    func decode<Sink: EventSink>(into events: inout Sink, limit: Int, validator: inout TraceValidator,
                                 policy: inout ErrorPolicy, as: Sink.Type = Sink.self) throws -> Bool {
        let w = window
        while events.count < limit {
            let start = w.pos
            let lineEnd: Int
            if let nl = memchr(w.base + start, Int32(newline), w.end - start) {
                lineEnd = nl.assumingMemoryBound(to: UInt8.self) - w.base
                w.pos = lineEnd + 1
            } else if w.atEnd {
                if start == w.end {
                    try checkEnd()
                    return false
                }
                lineEnd = w.end
                w.pos = w.end
            } else {
                if start == 0 && w.end == w.capacity {
                    throw TraceError(.dataError, file: w.name, at: .line(lineNumber + 1),
                                     "line longer than \(w.capacity) bytes")
                }
                try w.refill()
                continue
            }
            lineNumber += 1
            do {
                guard let event = try parseLine(w.base, start, lineEnd) else { continue }
                if case .access(let a) = event {
                    if let problem = validator.checkAccess(a) {
                        try policy.handle(lineError(problem, start, lineEnd))
                        continue
                    }
                } else if let problem = validator.check(event) {
                    try policy.handle(lineError(problem, start, lineEnd))
                    continue
                }
                events.append(event, at: .line(lineNumber))
            } catch let e as LineError {
                try policy.handle(lineError(e.message, start, lineEnd))
            }
        }
        return true
    }

    private func lineError(_ message: String, _ s: Int, _ e: Int) -> TraceError {
        let text = quoteInput(UnsafeBufferPointer(start: window.base + s, count: e - s))
        return TraceError(.dataError, file: window.name, at: .line(lineNumber), "\(message): \(text)")
    }

    private func checkEnd() throws {
        guard !sawHeader else { return }
        if window.offset(of: window.end) == 0 {
            throw TraceError(.dataError, file: window.name, at: .byte(0), "empty file: not a trace")
        }
        throw TraceError(.dataError, file: window.name, at: .line(max(lineNumber, 1)),
                         "no 'vmtrace 1' header: not a trace")
    }

    /// Parses one line `p[s..<e]`; nil for blank lines, comments and the header.
    @inline(__always)
    private func parseLine(_ p: UnsafeMutablePointer<UInt8>, _ s: Int, _ e: Int) throws -> TraceEvent? {
        var l = LineScanner(p: UnsafePointer(p), e: e, i: s, digits: digits)
        guard let keyword = l.token() else { return nil }
        guard sawHeader else {
            try parseHeader(&l, keyword, s, e)
            return nil
        }
        let c0 = p[keyword.lowerBound]
        var kind: AccessKind?
        if keyword.count == 1 {
            switch c0 {
            case 114: kind = .read
            case 119: kind = .write
            case 120: kind = .execute
            default: break
            }
        } else if keyword.count == 2 && c0 == 107 {
            switch p[keyword.lowerBound + 1] {
            case 114: kind = .kernelRead
            case 119: kind = .kernelWrite
            default: break
            }
        }
        guard let kind else { return try parseOther(&l, keyword) }
        let pid = try l.number32("PID")
        let address = try l.number("ADDR")
        var size: UInt32 = 1
        l.skipBlanks()
        if l.i < l.e && l.p[l.i] != hash {
            size = try l.number32("SIZE", suffix: true)
            if size == 0 { throw LineError("SIZE must be at least 1") }
            try l.expectEnd()
        }
        return .access(Access(kind: kind, pid: pid, address: address, size: size))
    }

    private func parseHeader(_ l: inout LineScanner, _ keyword: Range<Int>, _ s: Int, _ e: Int) throws {
        let text = quoteInput(UnsafeBufferPointer(start: window.base + s, count: e - s))
        guard l.tokenIs(keyword, "vmtrace") else {
            throw TraceError(.dataError, file: window.name, at: .line(lineNumber),
                             "expected the header 'vmtrace 1' as the first line, found \(text)")
        }
        do {
            let version = try l.number("version")
            try l.expectEnd()
            guard version == 1 else {
                throw TraceError(.dataError, file: window.name, at: .line(lineNumber),
                                 "unsupported trace version \(version) (this vmreplay reads version 1): \(text)")
            }
        } catch let error as LineError {
            throw TraceError(.dataError, file: window.name, at: .line(lineNumber), "bad header: \(error.message): \(text)")
        }
        sawHeader = true
    }

    /// Everything but r/w/x/kr/kw.
    private func parseOther(_ l: inout LineScanner, _ keyword: Range<Int>) throws -> TraceEvent? {
        let event: TraceEvent
        if l.tokenIs(keyword, "peek") || l.tokenIs(keyword, "poke") {
            let kind: AccessKind = l.p[keyword.lowerBound + 1] == 101 ? .peek : .poke
            let pid = try l.number32("PID")
            let address = try l.number("ADDR")
            if l.token() != nil { throw LineError("\(kind.keyword) takes no SIZE") }
            event = .access(Access(kind: kind, pid: pid, address: address))
        } else if l.tokenIs(keyword, "mmap") {
            event = .mmap(try parseMmap(&l))
        } else if l.tokenIs(keyword, "file") {
            return try parseFile(&l)
        } else if l.tokenIs(keyword, "proc") {
            let pid = try l.number32("PID")
            var threads: UInt32 = 1
            if let r = l.token() {
                guard l.tokenHasPrefix(r, "threads=") else { throw LineError("unexpected '\(l.clipped(r))'") }
                let value = r.lowerBound + 8..<r.upperBound
                threads = try l.number32(value, "threads=N")
            }
            event = .proc(pid: pid, threads: threads)
        } else if l.tokenIs(keyword, "threads") {
            let pid = try l.number32("PID")
            event = .threads(pid: pid, count: try l.number32("N"))
        } else if l.tokenIs(keyword, "fork") {
            let parent = try l.number32("PARENT")
            event = .fork(parent: parent, child: try l.number32("CHILD"))
        } else if l.tokenIs(keyword, "exec") {
            event = .exec(pid: try l.number32("PID"))
        } else if l.tokenIs(keyword, "exit") {
            event = .exit(pid: try l.number32("PID"))
        } else if l.tokenIs(keyword, "munmap") {
            let (pid, address, length) = try parseRange(&l)
            event = .munmap(pid: pid, address: address, length: length)
        } else if l.tokenIs(keyword, "mprotect") {
            let (pid, address, length) = try parseRange(&l)
            event = .mprotect(pid: pid, address: address, length: length, protection: try l.protection())
        } else if l.tokenIs(keyword, "madvise") {
            let (pid, address, length) = try parseRange(&l)
            guard let r = l.token() else { throw LineError("missing ADVICE") }
            if l.tokenIs(r, "setmap") {
                event = .setmap(pid: pid, address: address, length: length, value: try l.number("VALUE"))
            } else {
                guard let advice = Advice(keyword: Substring(l.text(r))) else {
                    throw LineError("bad ADVICE '\(l.clipped(r))' (normal, random, sequential, willneed, dontneed, free, inval, setmap VALUE)")
                }
                event = .madvise(pid: pid, address: address, length: length, advice: advice)
            }
        } else if l.tokenIs(keyword, "mlock") {
            let (pid, address, length) = try parseRange(&l)
            event = .mlock(pid: pid, address: address, length: length)
        } else if l.tokenIs(keyword, "munlock") {
            let (pid, address, length) = try parseRange(&l)
            event = .munlock(pid: pid, address: address, length: length)
        } else if l.tokenIs(keyword, "store") {
            let pid = try l.number32("PID")
            let address = try l.number("ADDR")
            event = .store(pid: pid, address: address, value: try l.number("VALUE"))
        } else if l.tokenIs(keyword, "drop_caches") {
            event = .dropCaches
        } else if l.tokenIs(keyword, "vmtrace") {
            // A repeated header, as in concatenated traces.
            let version = try l.number("version")
            guard version == 1 else { throw LineError("unsupported trace version \(version)") }
            try l.expectEnd()
            return nil
        } else {
            throw LineError("unknown event '\(l.clipped(keyword))'")
        }
        try l.expectEnd()
        return event
    }

    private func parseRange(_ l: inout LineScanner) throws -> (UInt32, UInt64, UInt64) {
        let pid = try l.number32("PID")
        let address = try l.number("ADDR")
        let length = try l.number("LEN", suffix: true)
        return (pid, address, length)
    }

    private func parseMmap(_ l: inout LineScanner) throws -> Mapping {
        let (pid, address, length) = try parseRange(&l)
        let protection = try l.protection()
        var flags: MmapFlags = []
        guard let sharing = l.token() else { throw LineError("missing private|shared") }
        if l.tokenIs(sharing, "shared") {
            flags.insert(.shared)
        } else if !l.tokenIs(sharing, "private") {
            throw LineError("expected private or shared, found '\(l.clipped(sharing))'")
        }
        guard let backing = l.token() else { throw LineError("missing anon|file=FID") }
        var fileID: UInt32?
        if l.tokenHasPrefix(backing, "file=") {
            let value = backing.lowerBound + 5..<backing.upperBound
            fileID = try l.number32(value, "FID")
        } else if !l.tokenIs(backing, "anon") {
            throw LineError("expected anon or file=FID, found '\(l.clipped(backing))'")
        }
        var offset: UInt64 = 0
        var sawOffset = false
        while let r = l.token() {
            let flag: MmapFlags
            if l.tokenHasPrefix(r, "off=") {
                guard !sawOffset else { throw LineError("off= given twice") }
                sawOffset = true
                offset = try l.number(r.lowerBound + 4..<r.upperBound, "OFF", suffix: true)
                continue
            } else if l.tokenIs(r, "stack") {
                flag = .stack
            } else if l.tokenIs(r, "nosync") {
                flag = .nosync
            } else if l.tokenIs(r, "device") {
                flag = .device
            } else if l.tokenIs(r, "uksmap") {
                flag = .uksmap
            } else if l.tokenIs(r, "vpagetable") {
                flag = .vpagetable
            } else {
                throw LineError("unknown mmap option '\(l.clipped(r))' (off=OFF, stack, nosync, device, uksmap, vpagetable)")
            }
            guard !flags.contains(flag) else { throw LineError("'\(l.clipped(r))' given twice") }
            flags.insert(flag)
        }
        return Mapping(pid: pid, address: address, length: length, protection: protection,
                       flags: flags, fileID: fileID, offset: offset)
    }

    /// `file FID SIZE [resident] [PATH...]`: the path is the rest of the line, trimmed.
    private func parseFile(_ l: inout LineScanner) throws -> TraceEvent {
        let id = try l.number32("FID")
        let size = try l.number("SIZE", suffix: true)
        var resident = false
        let beforeWord = l.i
        if let r = l.token() {
            if l.tokenIs(r, "resident") {
                resident = true
            } else {
                l.i = beforeWord
            }
        }
        l.skipBlanks()
        var end = l.e
        if l.i < end, let h = memchr(l.p + l.i, Int32(hash), end - l.i) {
            end = UnsafeRawPointer(h).assumingMemoryBound(to: UInt8.self) - l.p
        }
        while end > l.i && isBlank(l.p[end - 1]) { end -= 1 }
        // No writer can put a NUL back into a text line: the path would not round-trip.
        if l.i < end, memchr(l.p + l.i, 0, end - l.i) != nil { throw LineError("file path contains a NUL byte") }
        // Invalid UTF-8 is refused, as the binary decoder refuses it (it became U+FFFD here).
        guard let path = String(validating: UnsafeBufferPointer(start: l.p + l.i, count: max(end - l.i, 0)), as: UTF8.self) else {
            throw LineError("file path is not valid UTF-8")
        }
        return .file(id: id, size: size, resident: resident, path: TracePath(path))
    }
}
