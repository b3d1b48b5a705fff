// The tunables a replay can set with `-s NAME=VALUE`, as `sysctl -w` would before the workload
// ran. Names, defaults and descriptions follow DragonFly at d709358f (research §8.2); tunables the
// kernel has no knob for (TLB geometry, the filesystem block size) live under `vmreplay.`.

/// The values in force for one replay.
public struct Tunables: Equatable, Hashable, Sendable {
    /// vm.prefault_pages (seed:2681)
    public var prefaultPages: Int64 = 8
    /// vm.fast_fault (seed:2684)
    public var fastFault: Int64 = 1
    /// vm.shared_fault (seed:158)
    public var sharedFault: Int64 = 1
    /// vm.virtual_copy_enable (seed:155)
    public var virtualCopyEnable: Int64 = 1
    /// vm.debug_fault (seed:151): print the first N vm_fault results.
    public var debugFault: Int64 = 0
    /// vm.debug_cluster (seed:153): print "R" on PG_RAM hits.
    public var debugCluster: Int64 = 0
    /// machdep.pmap_nx_enable (research §6.2): 0 none, 1 NX on read-only, 2 also on RW mappings.
    public var pmapNxEnable: Int64 = 0
    /// vm.map_partition_enable (research §2.1 step 11)
    public var mapPartitionEnable: Int64 = 1
    /// vfs.max_readahead (research §5.2)
    public var maxReadahead: Int64 = 2 * 1024 * 1024
    /// vmreplay.fs_block_size: filesystem block (buffer) size; 64K is HAMMER2's.
    public var fsBlockSize: Int64 = 64 * 1024
    /// kern.sgrowsiz (research §2.4)
    public var sgrowsiz: Int64 = 128 * 1024
    /// kern.maxssiz (research §2.4)
    public var maxssiz: Int64 = 512 * 1024 * 1024
    /// kern.dflssiz: the RLIMIT_STACK soft limit (research §2.4)
    public var dflssiz: Int64 = 8 * 1024 * 1024
    /// vm.pageout_memuse_mode: RLIMIT_RSS enforcement, 0 off, 1 passive, 2 active (research §7.4)
    public var pageoutMemuseMode: Int64 = 1
    /// vm.max_launder: dirty pages laundered per pass (research §7.3)
    public var maxLaunder: Int64 = 4096
    /// vm.anonmem_decline / vm.filemem_decline: act_count decline per active scan
    public var anonmemDecline: Int64 = 1
    public var filememDecline: Int64 = 2
    /// vmreplay.rlimit_rss: RLIMIT_RSS in bytes for every process; 0 = all of memory (the
    /// default, vm_init_limits: free pages at boot)
    public var rlimitRSS: Int64 = 0
    /// vmreplay.tlb.* geometry (Skylake-class defaults)
    public var dtlbEntries: Int64 = 64
    public var dtlbWays: Int64 = 4
    public var itlbEntries: Int64 = 128
    public var itlbWays: Int64 = 8
    public var stlbEntries: Int64 = 1536
    public var stlbWays: Int64 = 12

    public init() {}

    /// Looks a tunable up by its sysctl name.
    public subscript(name: String) -> Int64? {
        guard let d = Sysctl.descriptor(named: name) else { return nil }
        return self[keyPath: d.keyPath]
    }

    /// Sets a tunable by name after validating it against its range.
    public mutating func set(_ name: String, to value: Int64) throws(SysctlError) {
        guard let d = Sysctl.descriptor(named: name) else { throw .unknownName(name) }
        guard d.range.contains(value) else { throw .outOfRange(name: name, value: value, range: d.range) }
        if let check = d.validate, let problem = check(value) {
            throw .invalid(name: name, value: value, reason: problem)
        }
        self[keyPath: d.keyPath] = value
    }
}

public enum SysctlError: Error, Equatable, CustomStringConvertible {
    case unknownName(String)
    case outOfRange(name: String, value: Int64, range: ClosedRange<Int64>)
    case invalid(name: String, value: Int64, reason: String)

    public var description: String {
        switch self {
        case .unknownName(let n):
            return "unknown sysctl '\(n)'; known names: " + Sysctl.all.map(\.name).joined(separator: ", ")
        case .outOfRange(let n, let v, let r):
            return "\(n)=\(v) is out of range (\(r.lowerBound)...\(r.upperBound))"
        case .invalid(let n, let v, let why):
            return "\(n)=\(v) is invalid: \(why)"
        }
    }
}

/// One tunable: its name, where it lives, what DragonFly says it is.
public struct SysctlDescriptor: Sendable {
    public let name: String
    public let description: String
    public let keyPath: WritableKeyPath<Tunables, Int64> & Sendable
    public let range: ClosedRange<Int64>
    /// Where the knob comes from: a DragonFly sysctl, a loader tunable, or vmreplay's own.
    public let origin: String
    let validate: (@Sendable (Int64) -> String?)?

    public var defaultValue: Int64 { Tunables()[keyPath: keyPath] }
}

private let powerOfTwo: @Sendable (Int64) -> String? = { v in
    v > 0 && (v & (v - 1)) == 0 ? nil : "must be a power of two"
}
private let pageMultiple: @Sendable (Int64) -> String? = { v in
    v % 4096 == 0 ? nil : "must be a multiple of the page size (4096)"
}

public enum Sysctl {
    /// Every tunable, in `sysctl -a` order (by name).
    public static let all: [SysctlDescriptor] = [
        .init(name: "kern.dflssiz", description: "Default stack size limit (RLIMIT_STACK soft limit)",
              keyPath: \.dflssiz, range: 4096...(1 << 40), origin: "loader tunable", validate: pageMultiple),
        .init(name: "kern.maxssiz", description: "Maximum stack size",
              keyPath: \.maxssiz, range: 4096...(1 << 40), origin: "loader tunable", validate: pageMultiple),
        .init(name: "kern.sgrowsiz", description: "Amount to grow stack on a stack fault",
              keyPath: \.sgrowsiz, range: 4096...(1 << 32), origin: "loader tunable", validate: pageMultiple),
        .init(name: "machdep.pmap_nx_enable",
              description: "no-execute PTEs: 0 off, 1 on read-only mappings, 2 also on read-write mappings",
              keyPath: \.pmapNxEnable, range: 0...2, origin: "loader tunable", validate: nil),
        .init(name: "vfs.max_readahead", description: "Limit in bytes for desired cluster read-ahead",
              keyPath: \.maxReadahead, range: 0...(16 * 1024 * 1024), origin: "sysctl", validate: nil),
        .init(name: "vm.debug_cluster", description: "Print R on each PG_RAM read-ahead mark hit (seed:1687)",
              keyPath: \.debugCluster, range: 0...1, origin: "sysctl", validate: nil),
        .init(name: "vm.debug_fault", description: "Print the result of the next N vm_fault calls (seed:663)",
              keyPath: \.debugFault, range: 0...Int64(Int32.max), origin: "sysctl", validate: nil),
        .init(name: "vm.fast_fault", description: "Burst fault zero-fill regions",
              keyPath: \.fastFault, range: 0...1, origin: "sysctl", validate: nil),
        .init(name: "vm.map_partition_enable", description: "Break up larger vm_map_entry's",
              keyPath: \.mapPartitionEnable, range: 0...1, origin: "sysctl", validate: nil),
        .init(name: "vm.max_launder", description: "Limit dirty flushes in pageout",
              keyPath: \.maxLaunder, range: 0...(1 << 30), origin: "sysctl", validate: nil),
        .init(name: "vm.anonmem_decline", description: "active->inactive anon memory",
              keyPath: \.anonmemDecline, range: 0...64, origin: "sysctl", validate: nil),
        .init(name: "vm.filemem_decline", description: "active->inactive file cache",
              keyPath: \.filememDecline, range: 0...64, origin: "sysctl", validate: nil),
        .init(name: "vm.pageout_memuse_mode", description: "memoryuse resource mode (RLIMIT_RSS): 0 off, 1 passive, 2 active",
              keyPath: \.pageoutMemuseMode, range: 0...2, origin: "sysctl", validate: nil),
        .init(name: "vm.prefault_pages", description: "Maximum number of pages to pre-fault",
              keyPath: \.prefaultPages, range: Int64(Int32.min)...Int64(Int32.max), origin: "sysctl", validate: nil),
        .init(name: "vm.shared_fault", description: "Allow shared token on vm_object",
              keyPath: \.sharedFault, range: 0...1, origin: "sysctl", validate: nil),
        .init(name: "vm.virtual_copy_enable", description: "Move (rename) COW pages from an orphaned backing object",
              keyPath: \.virtualCopyEnable, range: 0...1, origin: "sysctl", validate: nil),
        .init(name: "vmreplay.fs_block_size",
              description: "Filesystem block size in bytes: one vnode pager fault reads at least one block (64K = HAMMER2)",
              keyPath: \.fsBlockSize, range: 4096...(1 << 24), origin: "vmreplay", validate: powerOfTwo),
        .init(name: "vmreplay.rlimit_rss",
              description: "RLIMIT_RSS of every process in bytes; 0 means all of memory (the kernel's default)",
              keyPath: \.rlimitRSS, range: 0...(1 << 50), origin: "vmreplay", validate: pageMultiple),
        .init(name: "vmreplay.tlb.dtlb_entries", description: "L1 data TLB entries (4K pages)",
              keyPath: \.dtlbEntries, range: 1...65536, origin: "vmreplay", validate: nil),
        .init(name: "vmreplay.tlb.dtlb_ways", description: "L1 data TLB associativity",
              keyPath: \.dtlbWays, range: 1...65536, origin: "vmreplay", validate: nil),
        .init(name: "vmreplay.tlb.itlb_entries", description: "L1 instruction TLB entries (4K pages)",
              keyPath: \.itlbEntries, range: 1...65536, origin: "vmreplay", validate: nil),
        .init(name: "vmreplay.tlb.itlb_ways", description: "L1 instruction TLB associativity",
              keyPath: \.itlbWays, range: 1...65536, origin: "vmreplay", validate: nil),
        .init(name: "vmreplay.tlb.stlb_entries", description: "Unified second-level TLB entries",
              keyPath: \.stlbEntries, range: 1...65536, origin: "vmreplay", validate: nil),
        .init(name: "vmreplay.tlb.stlb_ways", description: "Unified second-level TLB associativity",
              keyPath: \.stlbWays, range: 1...65536, origin: "vmreplay", validate: nil),
    ].sorted { $0.name < $1.name }

    public static func descriptor(named name: String) -> SysctlDescriptor? {
        all.first { $0.name == name }
    }
}
