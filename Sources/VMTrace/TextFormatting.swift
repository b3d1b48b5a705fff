// Canonical text of events (SPEC §1): hex addresses, decimal lengths and sizes, optional
// fields only when they differ from their defaults. The text writer and error messages share
// it, and the text reader reads it back to the same events.

/// Appends bytes at a raw pointer; the caller guarantees the room (see `maxTextBytes`).
struct ByteCursor {
    var p: UnsafeMutablePointer<UInt8>

    @inline(__always)
    mutating func put(_ b: UInt8) {
        p.pointee = b
        p += 1
    }

    @inline(__always)
    mutating func put(_ s: StaticString) {
        let n = s.utf8CodeUnitCount
        p.update(from: s.utf8Start, count: n)
        p += n
    }

    mutating func put(_ s: String) {
        var s = s
        s.withUTF8 { bytes in
            if let b = bytes.baseAddress { p.update(from: b, count: bytes.count) }
            p += bytes.count
        }
    }

    @inline(__always)
    mutating func putDecimal(_ value: UInt64) {
        if value < 10 {
            put(UInt8(truncatingIfNeeded: value) &+ 48)
            return
        }
        var digits = 0
        var v = value
        while v > 0 { digits += 1; v /= 10 }
        v = value
        var q = p + digits
        p = q
        while v > 0 {
            q -= 1
            q.pointee = UInt8(truncatingIfNeeded: v % 10) &+ 48
            v /= 10
        }
    }

    @inline(__always)
    mutating func putHex(_ value: UInt64) {
        put(48)   // 0
        put(120)  // x
        if value == 0 {
            put(48)
            return
        }
        let digits = (64 - value.leadingZeroBitCount + 3) / 4
        var q = p + digits
        p = q
        var v = value
        while v > 0 {
            q -= 1
            let d = UInt8(truncatingIfNeeded: v & 15)
            q.pointee = d < 10 ? d &+ 48 : d &+ 87
            v >>= 4
        }
    }

    @inline(__always)
    mutating func putProtection(_ prot: Protection) {
        put(prot.contains(.read) ? 114 : 45)
        put(prot.contains(.write) ? 119 : 45)
        put(prot.contains(.execute) ? 120 : 45)
    }
}

extension AccessKind {
    /// The keyword as a static string (no allocation).
    var staticKeyword: StaticString {
        switch self {
        case .read: return "r"
        case .write: return "w"
        case .execute: return "x"
        case .kernelRead: return "kr"
        case .kernelWrite: return "kw"
        case .peek: return "peek"
        case .poke: return "poke"
        }
    }
}

extension TraceEvent: CustomStringConvertible {
    /// Room `formatText` may need for this event, newline included.
    var maxTextBytes: Int {
        if case .file(_, _, _, let path) = self { return 64 + path.utf8.count }
        return 160
    }

    /// Whether the text form reads back to this very event. Paths cannot start or end with
    /// blanks, contain `#`, line breaks or NUL, and a non-resident file's path cannot start
    /// with the word `resident`.
    var textProblem: String? {
        guard case .file(_, _, let resident, let tracePath) = self, !tracePath.isEmpty else { return nil }
        let path = tracePath.string
        let u = Array(path.utf8)
        if let first = u.first, let last = u.last,
           first == 32 || first == 9 || last == 32 || last == 9 || last == 13 {
            return "file path starts or ends with a blank"
        }
        if u.contains(where: { $0 == 35 || $0 == 10 || $0 == 0 }) {
            return "file path contains '#', a line break or NUL"
        }
        if !resident && (path == "resident" || path.hasPrefix("resident ") || path.hasPrefix("resident\t")) {
            return "path of a non-resident file starts with the word 'resident'"
        }
        return nil
    }

    /// Writes the canonical text line (without newline).
    func formatText(into c: inout ByteCursor) {
        switch self {
        case .access(let a):
            c.put(a.kind.staticKeyword)
            c.put(32)
            c.putDecimal(UInt64(a.pid))
            c.put(32)
            c.putHex(a.address)
            if a.size != 1 && a.kind.hasSize {
                c.put(32)
                c.putDecimal(UInt64(a.size))
            }
        case .file(let id, let size, let resident, let path):
            c.put("file ")
            c.putDecimal(UInt64(id))
            c.put(32)
            c.putDecimal(size)
            if resident { c.put(" resident") }
            if !path.isEmpty {
                c.put(32)
                c.put(path.string)
            }
        case .proc(let pid, let threads):
            c.put("proc ")
            c.putDecimal(UInt64(pid))
            if threads != 1 {
                c.put(" threads=")
                c.putDecimal(UInt64(threads))
            }
        case .threads(let pid, let count):
            c.put("threads ")
            c.putDecimal(UInt64(pid))
            c.put(32)
            c.putDecimal(UInt64(count))
        case .fork(let parent, let child):
            c.put("fork ")
            c.putDecimal(UInt64(parent))
            c.put(32)
            c.putDecimal(UInt64(child))
        case .exec(let pid):
            c.put("exec ")
            c.putDecimal(UInt64(pid))
        case .exit(let pid):
            c.put("exit ")
            c.putDecimal(UInt64(pid))
        case .mmap(let m):
            putRange(&c, "mmap ", m.pid, m.address, m.length)
            c.put(32)
            c.putProtection(m.protection)
            c.put(m.flags.contains(.shared) ? " shared" : " private")
            if let fid = m.fileID {
                c.put(" file=")
                c.putDecimal(UInt64(fid))
            } else {
                c.put(" anon")
            }
            if m.offset != 0 {
                c.put(" off=")
                c.putDecimal(m.offset)
            }
            if m.flags.contains(.stack) { c.put(" stack") }
            if m.flags.contains(.nosync) { c.put(" nosync") }
            if m.flags.contains(.device) { c.put(" device") }
            if m.flags.contains(.uksmap) { c.put(" uksmap") }
            if m.flags.contains(.vpagetable) { c.put(" vpagetable") }
        case .munmap(let pid, let address, let length):
            putRange(&c, "munmap ", pid, address, length)
        case .mprotect(let pid, let address, let length, let protection):
            putRange(&c, "mprotect ", pid, address, length)
            c.put(32)
            c.putProtection(protection)
        case .madvise(let pid, let address, let length, let advice):
            putRange(&c, "madvise ", pid, address, length)
            c.put(32)
            c.put(advice.staticKeyword)
        case .mlock(let pid, let address, let length):
            putRange(&c, "mlock ", pid, address, length)
        case .munlock(let pid, let address, let length):
            putRange(&c, "munlock ", pid, address, length)
        case .dropCaches:
            c.put("drop_caches")
        case .setmap(let pid, let address, let length, let value):
            putRange(&c, "madvise ", pid, address, length)
            c.put(" setmap ")
            c.putHex(value)
        case .store(let pid, let address, let value):
            c.put("store ")
            c.putDecimal(UInt64(pid))
            c.put(32)
            c.putHex(address)
            c.put(32)
            c.putHex(value)
        }
    }

    private func putRange(_ c: inout ByteCursor, _ keyword: StaticString, _ pid: UInt32,
                          _ address: UInt64, _ length: UInt64) {
        c.put(keyword)
        c.putDecimal(UInt64(pid))
        c.put(32)
        c.putHex(address)
        c.put(32)
        c.putDecimal(length)
    }

    /// The canonical text line, e.g. `r 1 0x7fff0010 8`.
    public var description: String {
        let room = maxTextBytes
        return String(unsafeUninitializedCapacity: room) { buffer in
            guard let base = buffer.baseAddress else { return 0 }
            var c = ByteCursor(p: base)
            formatText(into: &c)
            return c.p - base
        }
    }
}

extension Advice {
    var staticKeyword: StaticString {
        switch self {
        case .normal: return "normal"
        case .random: return "random"
        case .sequential: return "sequential"
        case .willneed: return "willneed"
        case .dontneed: return "dontneed"
        case .free: return "free"
        case .inval: return "inval"
        }
    }
}
