// The system calls the Lackey importer acts on, decoded from the text Valgrind's syscall
// wrappers print (coregrind/m_syswrap/syswrap-{generic,linux,amd64-linux}.c, Valgrind 3.19).
// Numbers are printed in the wrappers' own styles: `%#lx` (0x hex), `%lu`/`%ld` (decimal; -1 as
// 4294967295 for int arguments), and clone's flags as bare `%lx` hex.
import VMTrace

/// A decoded system call; `.other` for the ones that do not change what a trace records.
enum LackeyCall: Equatable {
    case mmap(address: UInt64, length: UInt64, prot: UInt64, flags: UInt64, fd: Int64, offset: UInt64)
    case munmap(address: UInt64, length: UInt64)
    case mprotect(address: UInt64, length: UInt64, prot: UInt64)
    case madvise(address: UInt64, length: UInt64, advice: UInt64)
    case mlock(address: UInt64, length: UInt64)
    case munlock(address: UInt64, length: UInt64)
    case brk(address: UInt64)
    case mremap(address: UInt64, oldLength: UInt64, newLength: UInt64, flags: UInt64)
    /// `open`, `openat` (`directory` is the dirfd, nil for AT_FDCWD) and `creat`.
    case open(directory: Int64?, path: String)
    case close(fd: Int64)
    /// `dup(fd)` and `fcntl(fd, F_DUPFD[_CLOEXEC], min)`: the result is the new descriptor.
    case dup(fd: Int64)
    /// `dup2(fd, newfd)` and `dup3`.
    case dup2(fd: Int64, newFD: Int64)
    /// `clone(flags, ...)`; `child` is the pid Valgrind names for a fork-like clone.
    case clone(flags: UInt64, child: UInt32?)
    /// `fork`/`vfork` (Valgrind runs vfork as fork).
    case fork(child: UInt32?)
    case execve(path: String)
    /// `exit`: one thread ends.
    case exitThread
    /// `exit_group`: the process ends.
    case exitGroup
    case chdir(path: String)
    case fchdir(fd: Int64)
    case memfdCreate(name: String)
    case other
}

/// Linux x86-64 constants the importer interprets (include/uapi/asm-generic/mman*.h, sched.h,
/// fcntl.h).
enum LinuxABI {
    static let protRead: UInt64 = 0x1, protWrite: UInt64 = 0x2, protExec: UInt64 = 0x4
    static let mapShared: UInt64 = 0x01, mapPrivate: UInt64 = 0x02, mapSharedValidate: UInt64 = 0x03
    static let mapFixed: UInt64 = 0x10, mapAnonymous: UInt64 = 0x20, mapGrowsDown: UInt64 = 0x100
    static let cloneVM: UInt64 = 0x100
    static let atFDCWD: Int64 = -100
    static let fDupFD: UInt64 = 0, fDupFDCloexec: UInt64 = 1030
    static let mremapMayMove: UInt64 = 1, mremapFixed: UInt64 = 2

    /// MADV_* values that have a trace counterpart.
    static func advice(_ v: UInt64) -> Advice? {
        switch v {
        case 0: return .normal
        case 1: return .random
        case 2: return .sequential
        case 3: return .willneed
        case 4: return .dontneed
        case 8: return .free
        default: return nil
        }
    }

    static func protection(_ prot: UInt64) -> Protection {
        Protection(rawValue: UInt8(prot & 7))
    }
}

extension LackeySyscallLine {
    /// The wrapper's name without the annotation some wrappers add (`sys_fcntl[ARG3=='arg']`).
    var baseName: Substring {
        if let bracket = name.firstIndex(of: "[") { return name[..<bracket] }
        return name[...]
    }

    /// Decodes the call; nil when the text does not have the shape the wrapper prints.
    func decode() -> LackeyCall? {
        switch baseName {
        case "sys_mmap":
            guard let a = numbers(6) else { return nil }
            return .mmap(address: a[0], length: a[1], prot: a[2], flags: a[3],
                         fd: Int64(Int32(truncatingIfNeeded: a[4])), offset: a[5])
        case "sys_munmap":
            guard let a = numbers(2) else { return nil }
            return .munmap(address: a[0], length: a[1])
        case "sys_mprotect":
            guard let a = numbers(3) else { return nil }
            return .mprotect(address: a[0], length: a[1], prot: a[2])
        case "sys_madvise":
            guard let a = numbers(3) else { return nil }
            return .madvise(address: a[0], length: a[1], advice: a[2])
        case "sys_mlock", "sys_mlock2":
            guard let a = numbers(nil), a.count >= 2 else { return nil }
            return .mlock(address: a[0], length: a[1])
        case "sys_munlock":
            guard let a = numbers(2) else { return nil }
            return .munlock(address: a[0], length: a[1])
        case "sys_brk":
            guard let a = numbers(1) else { return nil }
            return .brk(address: a[0])
        case "sys_mremap":
            guard let a = numbers(nil), a.count == 4 || a.count == 5 else { return nil }
            return .mremap(address: a[0], oldLength: a[1], newLength: a[2], flags: a[3])
        case "sys_openat":
            guard let (lead, path) = pathArgument(leading: 1) else { return nil }
            let dirfd = Int64(Int32(truncatingIfNeeded: lead[0]))
            return .open(directory: dirfd == LinuxABI.atFDCWD ? nil : dirfd, path: path)
        case "sys_open", "sys_creat":
            guard let (_, path) = pathArgument(leading: 0) else { return nil }
            return .open(directory: nil, path: path)
        case "sys_close":
            guard let a = numbers(1) else { return nil }
            return .close(fd: Int64(Int32(truncatingIfNeeded: a[0])))
        case "sys_dup":
            guard let a = numbers(1) else { return nil }
            return .dup(fd: Int64(Int32(truncatingIfNeeded: a[0])))
        case "sys_dup2", "sys_dup3":
            guard let a = numbers(nil), a.count >= 2 else { return nil }
            return .dup2(fd: Int64(Int32(truncatingIfNeeded: a[0])), newFD: Int64(Int32(truncatingIfNeeded: a[1])))
        case "sys_fcntl":
            guard let a = numbers(nil), a.count >= 2 else { return nil }
            if a[1] == LinuxABI.fDupFD || a[1] == LinuxABI.fDupFDCloexec {
                return .dup(fd: Int64(Int32(truncatingIfNeeded: a[0])))
            }
            return .other
        case "sys_clone":
            // PRINT("sys_clone ( %lx, %#lx, ...": the flags are hex without 0x.
            guard let tokens = argumentTokens(), let first = tokens.first,
                  let flags = UInt64(first, radix: 16) else { return nil }
            return .clone(flags: flags, child: createdChild)
        case "sys_fork", "sys_vfork":
            return .fork(child: createdChild)
        case "sys_execve":
            guard let (_, path) = pathArgument(leading: 0) else { return nil }
            return .execve(path: path)
        case "exit":
            return .exitThread
        case "exit_group":
            return .exitGroup
        case "sys_chdir":
            guard let (_, path) = pathArgument(leading: 0) else { return nil }
            return .chdir(path: path)
        case "sys_fchdir":
            guard let a = numbers(1) else { return nil }
            return .fchdir(fd: Int64(Int32(truncatingIfNeeded: a[0])))
        case "sys_memfd_create":
            guard let (_, name) = pathArgument(leading: 0) else { return nil }
            return .memfdCreate(name: name)
        default:
            return .other
        }
    }

    /// `created child N` in clone's and fork's text (ML_(do_fork_clone) and PRE(sys_fork)).
    var createdChild: UInt32? {
        let t = text[...]
        guard let r = t.firstRange(of: "created child ") else { return nil }
        return UInt32(t[r.upperBound...].prefix(while: { $0.isASCII && $0.isNumber }))
    }

    /// The comma-separated tokens between the first `(` and the first `)` after it.
    func argumentTokens() -> [Substring]? {
        guard let open = text.firstIndex(of: "(") else { return nil }
        let rest = text[text.index(after: open)...]
        guard let close = rest.firstIndex(of: ")") else { return nil }
        let inner = rest[..<close].trimmingBlanks()
        if inner.isEmpty { return [] }
        return inner.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingBlanks() }
    }

    /// All arguments as numbers (exactly `count` of them when given).
    func numbers(_ count: Int?) -> [UInt64]? {
        guard let tokens = argumentTokens() else { return nil }
        if let count, tokens.count != count { return nil }
        var values: [UInt64] = []
        values.reserveCapacity(tokens.count)
        for t in tokens {
            guard let v = lackeyNumber(t) else { return nil }
            values.append(v)
        }
        return values
    }

    /// A call whose argument number `leading` is a string, printed as `0xADDR(STRING)` after
    /// `leading` numbers and followed only by numbers: returns the leading numbers and the string.
    /// The string may itself contain `(`, `)` and `, `: it ends at the last `), ` (or `) )`).
    func pathArgument(leading: Int) -> ([UInt64], String)? {
        guard let open = text.firstIndex(of: "(") else { return nil }
        var rest = text[text.index(after: open)...].drop(while: { $0 == " " })
        var lead: [UInt64] = []
        for _ in 0..<leading {
            guard let comma = rest.firstIndex(of: ","), let v = lackeyNumber(rest[..<comma].trimmingBlanks()) else {
                return nil
            }
            lead.append(v)
            rest = rest[rest.index(after: comma)...].drop(while: { $0 == " " })
        }
        guard rest.hasPrefix("0x"), let paren = rest.firstIndex(of: "(") else { return nil }
        let string = rest[rest.index(after: paren)...]
        let end = string.lastRange(of: "), ") ?? string.lastRange(of: ") )")
        guard let end else { return nil }
        return (lead, String(string[..<end.lowerBound]))
    }
}

extension Substring {
    func trimmingBlanks() -> Substring {
        var s = self
        while let f = s.first, f == " " || f == "\t" { s = s.dropFirst() }
        while let l = s.last, l == " " || l == "\t" { s = s.dropLast() }
        return s
    }
}
