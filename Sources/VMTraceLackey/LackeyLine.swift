// The lines of a log written by `valgrind --tool=lackey --trace-mem=yes --trace-syscalls=yes`
// (Valgrind 3.19), as recorded on this project's machines (docs/recording.md has samples):
//
//     I  0401ab70,3                                  instruction fetch: hex address, decimal size
//      L 04032e40,8                                  data load
//      S 1fff000758,8                                data store
//      M 04033e06,1                                  data modify (load and store of the same bytes)
//     ==15191== Command: /bin/true                   Valgrind's own messages (banner, summary)
//     --15191-- transtab: allocate sector 0          Valgrind's verbose messages
//     SYSCALL[15191,1](9) sys_mmap ( 0x0, 8192, 3, 34, 4294967295, 0 ) --> [pre-success] Success(0x4835000)
//     SYSCALL[15191,1](3) sys_close ( 4 )[sync] --> Success(0x0)
//     SYSCALL[15191,1](257) sys_openat ( 4294967196, 0x4034bb0(/usr/lib/x.so), 524288 ) --> [async] ...
//     SYSCALL[15191,1](257) ... [async] --> Success(0x4)
//     SYSCALL[19042,1](56) sys_clone ( 1200011, 0x0, 0x0, 0x4a27a10, 0x0 )   clone(fork): process 19042 created child 19068
//      --> [pre-success] Success(0x4a7c)
//
// The `SYSCALL[pid,tid](number) ` prefix and the outcomes (` --> [pre-success] R`,
// ` --> [pre-fail] R`, `[sync] --> R`, ` --> [async] ... ` then a later `... [async] --> R`)
// are printed by coregrind/m_syswrap/syswrap-main.c; the text between them is each wrapper's
// PRE print. A wrapper that prints a newline (clone and fork name the child, unimplemented
// syscalls explain themselves) leaves its outcome to a continuation line starting ` --> `.
import VMTrace

/// Lackey's four access records.
enum LackeyAccessKind: UInt8 {
    /// `I`: instruction fetch.
    case instruction
    /// `L`: data load.
    case load
    /// `S`: data store.
    case store
    /// `M`: data modify, a load then a store of the same bytes.
    case modify
}

/// How a system call ended: `Success(0x..)`, `Failure(0x..)` (errno) or `NoWriteResult`.
enum LackeyResult: Equatable {
    case success(UInt64)
    case failure(UInt64)
    case noWriteResult

    var succeeded: Bool {
        if case .failure = self { return false }
        return true
    }

    /// The value of a `Success`, nil otherwise.
    var value: UInt64? {
        if case .success(let v) = self { return v }
        return nil
    }
}

/// What follows a system call's text on its line.
enum LackeyOutcome: Equatable {
    /// Nothing yet: a continuation line or the end of the log (exec) follows.
    case pending
    /// ` --> [async] ... `: the call blocks; `... [async] --> R` ends it later.
    case async
    case done(LackeyResult)
}

/// The start of a system call: `SYSCALL[pid,tid](number) TEXT [outcome]`.
struct LackeySyscallLine: Equatable {
    var pid: UInt32
    var tid: UInt32
    var number: Int
    /// The wrapper's name: `sys_mmap`, `exit_group`, `unimplemented`, ...
    var name: String
    /// The wrapper's text (name and arguments, plus anything it printed after them), without
    /// the outcome.
    var text: String
    var outcome: LackeyOutcome
}

/// One line of a log, classified.
enum LackeyRecord: Equatable {
    case access(LackeyAccessKind, address: UInt64, size: UInt32)
    case syscall(LackeySyscallLine)
    /// `SYSCALL[pid,tid](number) ... [async] --> R`
    case asyncDone(pid: UInt32, tid: UInt32, number: Int, result: LackeyResult)
    /// ` --> ...`: the outcome of the call whose text ended the previous line.
    case continuation(LackeyOutcome)
    /// `==pid== Command: ...`
    case command(pid: UInt32, String)
    /// `==pid== Parent PID: N`
    case parentPid(pid: UInt32, UInt32)
    /// Any other `==pid== ...` line.
    case banner(pid: UInt32)
    /// `--pid-- ...` and `vex ...`: other Valgrind output.
    case message
    case blank
}

/// Why a line is not a log line.
struct LackeyLineError: Error {
    let message: String
}

private let space: UInt8 = 32

enum LackeyLineParser {
    /// Classifies one line (without its newline).
    static func parse(_ line: UnsafeBufferPointer<UInt8>) throws(LackeyLineError) -> LackeyRecord {
        let p = line
        var e = p.count
        while e > 0 && (p[e - 1] == space || p[e - 1] == 13 || p[e - 1] == 9) { e -= 1 }
        if e == 0 { return .blank }
        // The hot path: access records.
        if e >= 6 && p[2] == space {
            if p[0] == UInt8(ascii: "I") && p[1] == space {
                return try access(.instruction, p, e)
            }
            if p[0] == space {
                switch p[1] {
                case UInt8(ascii: "L"): return try access(.load, p, e)
                case UInt8(ascii: "S"): return try access(.store, p, e)
                case UInt8(ascii: "M"): return try access(.modify, p, e)
                default: break
                }
            }
        }
        let text = String(decoding: UnsafeBufferPointer(rebasing: p[0..<e]), as: UTF8.self)
        return try parseOther(text)
    }

    static func parse(_ text: String) throws(LackeyLineError) -> LackeyRecord {
        let bytes = Array(text.utf8)
        let result = bytes.withUnsafeBufferPointer { b in Result { () throws(LackeyLineError) in try parse(b) } }
        return try result.get()
    }

    @inline(__always)
    private static func access(_ kind: LackeyAccessKind, _ p: UnsafeBufferPointer<UInt8>, _ e: Int)
        throws(LackeyLineError) -> LackeyRecord
    {
        var i = 3
        var address: UInt64 = 0
        let first = i
        while i < e {
            let c = p[i]
            var d = c &- 48
            if d > 9 {
                let l = c | 0x20
                guard l >= 97 && l <= 102 else { break }
                d = l &- 87
            }
            guard address >> 60 == 0 else { throw LackeyLineError(message: "address too large") }
            address = address << 4 | UInt64(d)
            i += 1
        }
        guard i > first, i < e, p[i] == UInt8(ascii: ",") else {
            throw LackeyLineError(message: "expected ADDRESS,SIZE")
        }
        i += 1
        var size: UInt64 = 0
        let sizeStart = i
        while i < e {
            let d = p[i] &- 48
            guard d <= 9 else { break }
            size = size * 10 + UInt64(d)
            guard size <= UInt64(UInt32.max) else { throw LackeyLineError(message: "size too large") }
            i += 1
        }
        guard i > sizeStart, i == e else { throw LackeyLineError(message: "expected ADDRESS,SIZE") }
        return .access(kind, address: address, size: UInt32(size))
    }

    private static func parseOther(_ text: String) throws(LackeyLineError) -> LackeyRecord {
        if text.hasPrefix("SYSCALL[") { return try syscall(text) }
        if text.hasPrefix(" --> ") || text == " -->" {
            return .continuation(try outcome(afterArrow: text.dropFirst(4)))
        }
        if text.hasPrefix("==") { return try banner(text) }
        if text.hasPrefix("--") {
            // `--pid-- message` (and `--pid:level:module` debug lines, should they be mixed in).
            let rest = text.dropFirst(2)
            let digits = rest.prefix(while: { $0.isASCII && $0.isNumber })
            if !digits.isEmpty, let next = rest.dropFirst(digits.count).first, next == "-" || next == ":" {
                return .message
            }
        }
        if text.hasPrefix("vex ") { return .message }
        throw LackeyLineError(message: "not a Lackey or Valgrind line")
    }

    /// `==pid== ...`
    private static func banner(_ text: String) throws(LackeyLineError) -> LackeyRecord {
        let rest = text.dropFirst(2)
        let digits = rest.prefix(while: { $0.isASCII && $0.isNumber })
        guard let pid = UInt32(digits), rest.dropFirst(digits.count).hasPrefix("==") else {
            throw LackeyLineError(message: "not a Valgrind message")
        }
        let message = rest.dropFirst(digits.count + 2).drop(while: { $0 == " " })
        if message.hasPrefix("Command: ") {
            return .command(pid: pid, String(message.dropFirst("Command: ".count)))
        }
        if message.hasPrefix("Parent PID: "), let parent = UInt32(message.dropFirst("Parent PID: ".count)) {
            return .parentPid(pid: pid, parent)
        }
        return .banner(pid: pid)
    }

    /// `SYSCALL[pid,tid](number) rest`
    private static func syscall(_ text: String) throws(LackeyLineError) -> LackeyRecord {
        let bad = LackeyLineError(message: "malformed SYSCALL line")
        var s = text.dropFirst("SYSCALL[".count)
        guard let comma = s.firstIndex(of: ","), let pid = UInt32(s[..<comma]) else { throw bad }
        s = s[s.index(after: comma)...]
        guard let close = s.firstIndex(of: "]"), let tid = UInt32(s[..<close]) else { throw bad }
        s = s[s.index(after: close)...]
        guard s.hasPrefix("("), let closeParen = s.firstIndex(of: ")") else { throw bad }
        let numberText = s[s.index(after: s.startIndex)..<closeParen]
        // The number is printed as a decimal on Linux (VG_SYSNUM_STRING).
        let number = Int(numberText) ?? -1
        s = s[s.index(after: closeParen)...]
        guard s.hasPrefix(" ") else { throw bad }
        s = s.dropFirst()
        if s.hasPrefix("... [async] --> ") {
            let r = try result(s.dropFirst("... [async] --> ".count))
            return .asyncDone(pid: pid, tid: tid, number: number, result: r)
        }
        let name = String(s.prefix(while: { $0 != " " && $0 != "(" }))
        guard !name.isEmpty else { throw bad }
        // The outcome is at the end: the last arrow on the line is the framework's.
        var body = s
        var result = LackeyOutcome.pending
        if let arrow = s.lastRange(of: "-->") {
            let before = s[..<arrow.lowerBound]
            let after = s[arrow.upperBound...]
            if before.hasSuffix("[sync] ") {
                if let r = try? Self.result(after.drop(while: { $0 == " " })) {
                    result = .done(r)
                    body = before.dropLast("[sync] ".count)
                }
            } else if before.hasSuffix(" "), let o = try? outcome(afterArrow: after), o != .pending {
                result = o
                body = before.dropLast()
            }
        }
        return .syscall(LackeySyscallLine(pid: pid, tid: tid, number: number, name: name,
                                          text: String(body), outcome: result))
    }

    /// Parses what follows `-->`: ` [pre-success] R`, ` [pre-fail] R`, ` [async] ...`. Anything after the result (Valgrind adds a blank and post-handler notes)
    /// is ignored.
    static func outcome(afterArrow text: Substring) throws(LackeyLineError) -> LackeyOutcome {
        let bad = LackeyLineError(message: "malformed system call outcome")
        var s = text
        guard s.hasPrefix(" [") else { throw bad }
        s = s.dropFirst(2)
        guard let close = s.firstIndex(of: "]") else { throw bad }
        let tag = s[..<close]
        s = s[s.index(after: close)...].drop(while: { $0 == " " })
        switch tag {
        case "async":
            guard s.hasPrefix("...") else { throw bad }
            return .async
        case "pre-success", "pre-fail":
            return .done(try result(s))
        default:
            throw bad
        }
    }

    /// `Success(0x1f)`, `Failure(0x2)`, `NoWriteResult`.
    static func result(_ s: Substring) throws(LackeyLineError) -> LackeyResult {
        let bad = LackeyLineError(message: "malformed system call result")
        if s.hasPrefix("NoWriteResult") { return .noWriteResult }
        let success = s.hasPrefix("Success(")
        guard success || s.hasPrefix("Failure(") else { throw bad }
        let inner = s.dropFirst("Success(".count)
        guard let close = inner.firstIndex(of: ")"), let v = lackeyNumber(inner[..<close]) else { throw bad }
        return success ? .success(v) : .failure(v)
    }
}

/// A number as Valgrind prints syscall arguments: `0x..` hex, decimal, or `-` decimal (two's
/// complement).
func lackeyNumber(_ s: Substring) -> UInt64? {
    if s.hasPrefix("0x") || s.hasPrefix("0X") { return UInt64(s.dropFirst(2), radix: 16) }
    if s.hasPrefix("-"), let v = UInt64(s.dropFirst()) { return 0 &- v }
    return UInt64(s)
}

extension Substring {
    /// The range of the first occurrence of `needle`.
    func firstRange(of needle: String) -> Range<Index>? {
        let n = needle.utf8.count
        let u = utf8
        guard u.count >= n else { return nil }
        var i = u.startIndex
        let last = u.index(u.endIndex, offsetBy: -n)
        while true {
            if u[i...].starts(with: needle.utf8) { return i..<u.index(i, offsetBy: n) }
            if i == last { return nil }
            i = u.index(after: i)
        }
    }

    /// The range of the last occurrence of `needle`.
    func lastRange(of needle: String) -> Range<Index>? {
        let n = needle.utf8.count
        let u = utf8
        guard u.count >= n else { return nil }
        var i = u.index(u.endIndex, offsetBy: -n)
        while true {
            if u[i...].starts(with: needle.utf8) { return i..<u.index(i, offsetBy: n) }
            if i == u.startIndex { return nil }
            i = u.index(before: i)
        }
    }
}
