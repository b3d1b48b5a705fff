// Machine-dependent and VM-wide constants (sys/platform/pc64/include/vmparam.h, sys/vm/vm.h,
// sys/vm/vm_map.h, sys/vm/vm_param.h).

/// Bytes per page (PAGE_SIZE on pc64).
public let pageSize: UInt64 = 4096
/// log2(PAGE_SIZE).
public let pageShift: UInt64 = 12
/// PAGE_MASK.
public let pageMask: UInt64 = pageSize - 1

/// One past the highest user address (VM_MAX_USER_ADDRESS on pc64: the canonical lower half).
/// trap.c sends user-mode faults at or above it straight to SIGSEGV (research §1).
public let vmMaxUserAddress: UInt64 = 0x0000_8000_0000_0000
/// USRSTACK: the top of the process stack (== VM_MAX_USER_ADDRESS on pc64).
public let userStackTop: UInt64 = vmMaxUserAddress

/// MAP_ENTRY_PARTITION_SIZE at d709358f: 32 MB (research §2.1 step 11).
public let mapEntryPartitionSize: UInt64 = 32 * 1024 * 1024
/// pmap_object_init_pt's MAX_INIT_PT (research §6.4).
public let maxInitPT = 96
/// SEG_SIZE: 2 MB, the alignment pmap_object_init_pt and mmap care about.
public let segmentSize: UInt64 = 2 * 1024 * 1024

@inline(__always) func truncPage(_ a: UInt64) -> UInt64 { a & ~pageMask }
@inline(__always) func roundPage(_ a: UInt64) -> UInt64 { (a &+ pageMask) & ~pageMask }
/// OFF_TO_IDX
@inline(__always) func offToIdx(_ off: UInt64) -> Int64 { Int64(bitPattern: off >> pageShift) }
/// IDX_TO_OFF
@inline(__always) func idxToOff(_ idx: Int64) -> UInt64 { UInt64(bitPattern: idx) << pageShift }
@inline(__always) func roundUp(_ x: UInt64, _ unit: UInt64) -> UInt64 { (x + unit - 1) / unit * unit }

/// vm_prot_t (vm.h): VM_PROT_READ 1, WRITE 2, EXECUTE 4.
public struct VMProt: OptionSet, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }
    public static let read = VMProt(rawValue: 1)
    public static let write = VMProt(rawValue: 2)
    public static let execute = VMProt(rawValue: 4)
    /// VM_PROT_OVERRIDE_WRITE: the debugger / user-wire path may write through max_protection.
    public static let overrideWrite = VMProt(rawValue: 8)
    public static let none: VMProt = []
    public static let all: VMProt = [.read, .write, .execute]

    public var description: String {
        (contains(.read) ? "r" : "-") + (contains(.write) ? "w" : "-") + (contains(.execute) ? "x" : "-")
    }
}

/// kern_return_t values the fault path uses (mach/kern_return.h).
public enum KernReturn: Int, Sendable {
    case success = 0
    case invalidAddress = 1
    case protectionFailure = 2
    case noSpace = 3
    case failure = 5
    case tryAgain = 9 // KERN_TRY_AGAIN (vm_param.h)
    case failureNoFault = 10 // KERN_FAILURE_NOFAULT
}

/// vm_fault() fault_flags (sys/vm/vm_map.h, research §1).
public struct FaultFlags: OptionSet, Hashable, Sendable {
    public let rawValue: Int
    public init(rawValue: Int) { self.rawValue = rawValue }
    public static let normal: FaultFlags = []
    public static let changeWiring = FaultFlags(rawValue: 0x01)
    public static let userWire = FaultFlags(rawValue: 0x02)
    public static let burst = FaultFlags(rawValue: 0x04)
    public static let dirty = FaultFlags(rawValue: 0x08)
    public static let unswap = FaultFlags(rawValue: 0x10)
    public static let burstQuick = FaultFlags(rawValue: 0x20)
    public static let userMode = FaultFlags(rawValue: 0x40)
    public static let wireMask: FaultFlags = [.changeWiring, .userWire]
}

/// fs.wflags bits (research §1).
struct WireFlags: OptionSet {
    let rawValue: Int
    static let wired = WireFlags(rawValue: 0x1) // FW_WIRED
    static let didCOW = WireFlags(rawValue: 0x2) // FW_DIDCOW
}
