// The events of a `vmtrace 1` trace (SPEC §1), as values.
//
// Every codec (text, binary, importers, generators) produces and consumes these; the replay
// driver hands them to the kernel. Accesses are by far the most frequent event, so `Access` is a
// small trivial struct and `TraceEvent.access` carries no reference-counted payload.

/// Page size of the simulated machine (x86-64 base pages).
public let tracePageSize: UInt64 = 4096

/// A protection triple (`rwx`, `r--`, ...). Bit values match DragonFly's VM_PROT_* (vm.h).
public struct Protection: OptionSet, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue & 7 }
    public static let read = Protection(rawValue: 1)
    public static let write = Protection(rawValue: 2)
    public static let execute = Protection(rawValue: 4)
    public static let none: Protection = []
    public static let all: Protection = [.read, .write, .execute]

    /// The three-character form: `rw-`, `r-x`, `---`.
    public var description: String {
        (contains(.read) ? "r" : "-") + (contains(.write) ? "w" : "-") + (contains(.execute) ? "x" : "-")
    }

    /// Parses exactly three characters `[r-][w-][x-]`.
    public init?(text: Substring) {
        let u = Array(text.utf8)
        guard u.count == 3 else { return nil }
        var v: UInt8 = 0
        switch u[0] { case UInt8(ascii: "r"): v |= 1; case UInt8(ascii: "-"): break; default: return nil }
        switch u[1] { case UInt8(ascii: "w"): v |= 2; case UInt8(ascii: "-"): break; default: return nil }
        switch u[2] { case UInt8(ascii: "x"): v |= 4; case UInt8(ascii: "-"): break; default: return nil }
        self.init(rawValue: v)
    }
}

/// The kind of a memory access event.
public enum AccessKind: UInt8, CaseIterable, Sendable {
    /// `r`: user-mode data read.
    case read = 0
    /// `w`: user-mode data write.
    case write = 1
    /// `x`: user-mode instruction fetch.
    case execute = 2
    /// `kr`: the kernel reads user memory for the process (copyin).
    case kernelRead = 3
    /// `kw`: the kernel writes user memory for the process (copyout).
    case kernelWrite = 4
    /// `peek`: another process reads the page through vm_fault_page.
    case peek = 5
    /// `poke`: another process writes the page through vm_fault_page.
    case poke = 6

    /// The event keyword in the text format.
    public var keyword: String { staticKeyword.description }

    /// True for kinds whose text form carries an optional SIZE (`peek`/`poke` do not).
    public var hasSize: Bool { self != .peek && self != .poke }

    public var isWrite: Bool { self == .write || self == .kernelWrite || self == .poke }
}

/// One access: the hot event. Trivial (no references), 24 bytes.
public struct Access: Hashable, Sendable {
    public var address: UInt64
    public var pid: UInt32
    /// Bytes accessed, at least 1. `peek`/`poke` always 1.
    public var size: UInt32
    public var kind: AccessKind

    public init(kind: AccessKind, pid: UInt32, address: UInt64, size: UInt32 = 1) {
        self.kind = kind
        self.pid = pid
        self.address = address
        self.size = size
    }
}

/// madvise(2) advice values the trace can name.
public enum Advice: UInt8, CaseIterable, Sendable {
    case normal = 0, random = 1, sequential = 2, willneed = 3, dontneed = 4, free = 5
    /// MADV_INVAL: drop the real PTEs of the range (a vkernel after changing its page tables).
    case inval = 6

    public var keyword: String { staticKeyword.description }

    public init?(keyword: Substring) {
        guard let a = Advice.allCases.first(where: { $0.keyword == keyword }) else { return nil }
        self = a
    }
}

/// Optional flags of an `mmap` event.
public struct MmapFlags: OptionSet, Hashable, Sendable {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }
    /// `shared` (MAP_SHARED); absent means `private`.
    public static let shared = MmapFlags(rawValue: 1 << 0)
    /// `stack`: vm_map_stack, grows down on demand.
    public static let stack = MmapFlags(rawValue: 1 << 1)
    /// `nosync`: MAP_NOSYNC.
    public static let nosync = MmapFlags(rawValue: 1 << 2)
    /// `device`: a device-pager object.
    public static let device = MmapFlags(rawValue: 1 << 3)
    /// `uksmap`: a user-kernel shared map.
    public static let uksmap = MmapFlags(rawValue: 1 << 4)
    /// `vpagetable`: MAP_VPAGETABLE, an entry governed by a virtual page table (a vkernel).
    public static let vpagetable = MmapFlags(rawValue: 1 << 5)
}

/// The `mmap` event's fields.
public struct Mapping: Hashable, Sendable {
    public var pid: UInt32
    public var address: UInt64
    public var length: UInt64
    public var protection: Protection
    public var flags: MmapFlags
    /// `nil` for `anon`, else the declared file id (`file=FID`).
    public var fileID: UInt32?
    /// `off=OFF`, bytes, page aligned (0 when absent).
    public var offset: UInt64

    public init(pid: UInt32, address: UInt64, length: UInt64, protection: Protection,
                flags: MmapFlags = [], fileID: UInt32? = nil, offset: UInt64 = 0) {
        self.pid = pid
        self.address = address
        self.length = length
        self.protection = protection
        self.flags = flags
        self.fileID = fileID
        self.offset = offset
    }
}

/// One event of a trace (SPEC §1).
public enum TraceEvent: Hashable, Sendable {
    /// `file FID SIZE [resident] [PATH...]`
    case file(id: UInt32, size: UInt64, resident: Bool, path: TracePath)
    /// `proc PID [threads=N]`
    case proc(pid: UInt32, threads: UInt32)
    /// `threads PID N`
    case threads(pid: UInt32, count: UInt32)
    /// `fork PARENT CHILD`
    case fork(parent: UInt32, child: UInt32)
    /// `exec PID`
    case exec(pid: UInt32)
    /// `exit PID`
    case exit(pid: UInt32)
    /// `mmap PID ADDR LEN PROT private|shared anon|file=FID [off=OFF] [stack] [nosync] [device] [uksmap] [vpagetable]`
    case mmap(Mapping)
    /// `munmap PID ADDR LEN`
    case munmap(pid: UInt32, address: UInt64, length: UInt64)
    /// `mprotect PID ADDR LEN PROT`
    case mprotect(pid: UInt32, address: UInt64, length: UInt64, protection: Protection)
    /// `madvise PID ADDR LEN ADVICE`
    case madvise(pid: UInt32, address: UInt64, length: UInt64, advice: Advice)
    /// `mlock PID ADDR LEN`
    case mlock(pid: UInt32, address: UInt64, length: UInt64)
    /// `munlock PID ADDR LEN`
    case munlock(pid: UInt32, address: UInt64, length: UInt64)
    /// `r`/`w`/`x`/`kr`/`kw`/`peek`/`poke`
    case access(Access)
    /// `drop_caches`
    case dropCaches
    /// `madvise PID ADDR LEN setmap VALUE`: mcontrol(MADV_SETMAP), VALUE becomes the master
    /// page-directory entry of the range's VPAGETABLE entries.
    case setmap(pid: UInt32, address: UInt64, length: UInt64, value: UInt64)
    /// `store PID ADDR VALUE`: a user-mode 8-byte write at an 8-aligned ADDR whose data is kept.
    case store(pid: UInt32, address: UInt64, value: UInt64)
}
