// Valgrind's own record of a client's address space at startup. With `-d`, each Valgrind
// process prints its segment list to standard error (file descriptor 2, not the log) just
// before the client's first instruction (coregrind/m_aspacemgr/aspacemgr-linux.c,
// show_nsegment), one line per segment:
//
//     --15602:1: aspacem <<< SHOW_SEGMENTS: Memory layout at client startup (34 segments)
//     --15602:1: aspacem (1,49,7) /usr/bin/true
//     --15602:1: aspacem   1: file 0000108000-0000109fff    8192 r---- d=0xfe00 i=254734  o=0       (1,49)
//     --15602:1: aspacem  10: anon 0004035000-0004035fff    4096 rwx--
//     --15602:1: aspacem  11: RSVN 0004036000-0004834fff 8384512 ----- SmLower
//     --15602:1: aspacem  24: RSVN 1ffe801000-1ffeffefff 8380416 ----- SmUpper
//     --15602:1: aspacem  25: anon 1ffefff000-1fff000fff    8192 rw---
//     --15602:1: aspacem >>>
//
// Lower-case kinds (`file`, `anon`, `shm`) are the client's; upper-case ones and `RSVN` are
// Valgrind's own or reservations. The client's stack is the `anon` segment right above an
// `SmUpper` reservation (it may grow down into it); the brk area is the `anon` page right below
// an `SmLower` reservation (Valgrind pre-maps one page; the heap grows into the reservation).
import VMTrace

/// One client segment of a startup layout.
struct LackeyLayoutSegment: Equatable {
    enum Kind: Equatable {
        case file(path: String, offset: UInt64)
        case anon
        case shared
        /// The initial stack: `[reserveStart, end)` is the most it may reach; `[start, end)` holds
        /// the arguments, environment and auxiliary vector the loader wrote.
        case stack(reserveStart: UInt64)
        /// The brk area: the heap starts at `start`.
        case brk
    }

    var start: UInt64
    /// Exclusive.
    var end: UInt64
    var protection: Protection
    var kind: Kind
}

/// The startup layouts found in a `valgrind -d` standard-error capture, by pid, in the order
/// the processes (and the programs they exec'd) started.
struct LackeyLayouts {
    private(set) var byPid: [UInt32: [[LackeyLayoutSegment]]] = [:]
    /// Blocks that could not be read (damaged by interleaved output of concurrent processes).
    private(set) var damaged: [String] = []

    init() {}

    /// Reads every `Memory layout at client startup` block of `path`; other lines (the
    /// program's own standard error, other debug output) are ignored.
    init(path: String) throws {
        let reader = try LackeyLogReader(path: path)
        var open: [UInt32: Block] = [:]
        while let line = try reader.next() {
            let text = String(decoding: line.bytes, as: UTF8.self)
            guard let (pid, body) = Self.aspacemLine(text) else { continue }
            if body.hasPrefix("<<< SHOW_SEGMENTS: Memory layout at client startup") {
                open[pid] = Block(line: line.number)
                continue
            }
            guard var block = open[pid] else { continue }
            if body.hasPrefix(">>>") {
                open[pid] = nil
                if block.ok {
                    byPid[pid, default: []].append(Self.clientSegments(block.segments, names: block.names))
                } else {
                    damaged.append("\(displayName(forPath: path)):\(block.line): process \(pid)")
                    byPid[pid, default: []].append([])
                }
                continue
            }
            block.ok = block.ok && block.add(body)
            open[pid] = block
        }
        for (pid, block) in open.sorted(by: { $0.key < $1.key }) {
            damaged.append("\(displayName(forPath: path)):\(block.line): process \(pid) (unterminated)")
        }
    }

    /// The program a layout starts: its lowest file segment (Valgrind loads the executable
    /// below ld.so: 0x108000 or 0x400000, ld.so at 0x4000000). Nil for a damaged layout.
    static func executable(of layout: [LackeyLayoutSegment]) -> String? {
        for seg in layout {
            if case .file(let path, _) = seg.kind { return path }
        }
        return nil
    }

    mutating func merge(_ other: LackeyLayouts) {
        for (pid, list) in other.byPid { byPid[pid, default: []].append(contentsOf: list) }
        damaged.append(contentsOf: other.damaged)
    }

    /// `--PID:LEVEL: aspacem BODY` → (PID, BODY).
    static func aspacemLine(_ text: String) -> (UInt32, Substring)? {
        guard text.hasPrefix("--") else { return nil }
        let rest = text.dropFirst(2)
        let digits = rest.prefix(while: { $0.isASCII && $0.isNumber })
        guard let pid = UInt32(digits) else { return nil }
        var s = rest.dropFirst(digits.count)
        guard s.hasPrefix(":") else { return nil }
        s = s.dropFirst().drop(while: { $0.isASCII && $0.isNumber })
        guard s.hasPrefix(":") else { return nil }
        s = s.dropFirst().drop(while: { $0 == " " })
        guard s.hasPrefix("aspacem ") else { return nil }
        return (pid, s.dropFirst("aspacem ".count).drop(while: { $0 == " " }))
    }

    /// A raw segment line.
    struct RawSegment {
        var kind: String
        var start: UInt64
        var end: UInt64
        var perms: Substring
        var offset: UInt64
        var name: String?
        var shrink: Substring
    }

    private struct Block {
        var line: Int
        var ok = true
        var names: [String: String] = [:]
        var segments: [RawSegment] = []

        init(line: Int) { self.line = line }

        /// Adds one body line; false if it is not one the block may contain.
        mutating func add(_ body: Substring) -> Bool {
            let tokens = body.split(separator: " ", omittingEmptySubsequences: true)
            guard let first = tokens.first else { return true }
            if first.hasPrefix("(") {
                // `(seq,idx,refs) /path`: a segment name.
                guard first.hasSuffix(")"), let pathStart = body.firstRange(of: ") ")?.upperBound else { return false }
                let ids = first.dropFirst().dropLast().split(separator: ",")
                guard ids.count == 3 else { return false }
                names["\(ids[0]),\(ids[1])"] = String(body[pathStart...])
                return true
            }
            guard first.hasSuffix(":"), Int(first.dropLast()) != nil else {
                // "3 segment names in 3 slots", "freelist is empty", ...
                return tokens.count > 1 && Int(first) != nil || first == "freelist"
            }
            // `N: KIND START-END LEN PERMS ...` or `N: START-END LEN` (free).
            var k = 1
            var kind = ""
            if k < tokens.count, !tokens[k].contains("-") {
                kind = String(tokens[k])
                k += 1
            }
            guard k < tokens.count else { return false }
            let range = tokens[k].split(separator: "-")
            guard range.count == 2, let s = UInt64(range[0], radix: 16), let e = UInt64(range[1], radix: 16),
                  e >= s else { return false }
            k += 2  // range, length
            var seg = RawSegment(kind: kind, start: s, end: e &+ 1, perms: "", offset: 0, name: nil, shrink: "")
            if kind.isEmpty {
                segments.append(seg)
                return true
            }
            guard k < tokens.count else { return false }
            seg.perms = tokens[k]
            guard seg.perms.count == 5 else { return false }
            k += 1
            if kind == "file" || kind == "FILE" {
                // d=0x.. i=.. o=.. (seq,idx)
                for t in tokens[k...] {
                    if t.hasPrefix("o="), let o = UInt64(t.dropFirst(2)) { seg.offset = o }
                    if t.hasPrefix("("), t.hasSuffix(")") { seg.name = String(t.dropFirst().dropLast()) }
                }
                guard seg.name != nil else { return false }
            } else if kind == "RSVN", k < tokens.count {
                seg.shrink = tokens[k]
            }
            segments.append(seg)
            return true
        }
    }

    /// The client's segments of a layout, with the stack and brk area recognised.
    static func clientSegments(_ raw: [RawSegment], names: [String: String]) -> [LackeyLayoutSegment] {
        var out: [LackeyLayoutSegment] = []
        for (i, seg) in raw.enumerated() {
            let prot = Protection(text: seg.perms.prefix(3)) ?? []
            switch seg.kind {
            case "file":
                guard let key = seg.name, let path = names[key] else { continue }
                out.append(LackeyLayoutSegment(start: seg.start, end: seg.end, protection: prot,
                                               kind: .file(path: path, offset: seg.offset)))
            case "anon":
                let below = i > 0 ? raw[i - 1] : nil
                let above = i + 1 < raw.count ? raw[i + 1] : nil
                if let below, below.kind == "RSVN", below.shrink == "SmUpper", below.end == seg.start {
                    out.append(LackeyLayoutSegment(start: seg.start, end: seg.end, protection: prot,
                                                   kind: .stack(reserveStart: below.start)))
                } else if let above, above.kind == "RSVN", above.shrink == "SmLower", above.start == seg.end {
                    out.append(LackeyLayoutSegment(start: seg.start, end: seg.end, protection: prot, kind: .brk))
                } else {
                    out.append(LackeyLayoutSegment(start: seg.start, end: seg.end, protection: prot, kind: .anon))
                }
            case "shm":
                out.append(LackeyLayoutSegment(start: seg.start, end: seg.end, protection: prot, kind: .shared))
            default:
                continue
            }
        }
        return out
    }
}
