// struct vm_map_entry (sys/vm/vm_map.h): one contiguous range of an address space.

/// entry->eflags (vm_map.h)
public struct EntryFlags: OptionSet, Hashable, Sendable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    public static let nosync = EntryFlags(rawValue: 0x0001) // MAP_ENTRY_NOSYNC
    public static let isSubMap = EntryFlags(rawValue: 0x0002)
    public static let cow = EntryFlags(rawValue: 0x0004) // MAP_ENTRY_COW
    public static let needsCopy = EntryFlags(rawValue: 0x0008) // MAP_ENTRY_NEEDS_COPY
    public static let nofault = EntryFlags(rawValue: 0x0010) // MAP_ENTRY_NOFAULT
    public static let userWired = EntryFlags(rawValue: 0x0020) // MAP_ENTRY_USER_WIRED
    public static let behavSequential = EntryFlags(rawValue: 0x0040) // MAP_ENTRY_BEHAV_SEQUENTIAL
    public static let behavRandom = EntryFlags(rawValue: 0x0080) // MAP_ENTRY_BEHAV_RANDOM
    public static let inTransition = EntryFlags(rawValue: 0x0100)
    public static let needsWakeup = EntryFlags(rawValue: 0x0200)
    public static let noCoreDump = EntryFlags(rawValue: 0x0400)
    public static let kstack = EntryFlags(rawValue: 0x0800) // MAP_ENTRY_KSTACK
    public static let stack = EntryFlags(rawValue: 0x1000) // MAP_ENTRY_STACK (vm_map_stack)

    static let behaviorMask: EntryFlags = [.behavSequential, .behavRandom]
}

/// vm_inherit_t (vm.h); VM_INHERIT_DEFAULT is COPY.
public enum Inheritance: UInt8, Sendable { case share, copy, none }

/// entry->maptype (vm_map.h)
public enum MapType: UInt8, Sendable { case normal, vpagetable, submap, uksmap }

/// Which subsystem made the entry (entry->id, VM_SUBSYS_*): vm_map_insert only coalesces
/// entries of the same subsystem.
public enum MapSubsystem: UInt8, Sendable { case mmap, stack, brk, exec }

/// vm_map_entry_behavior values.
enum MapBehavior { case normal, sequential, random }

public final class VMMapEntry {
    @exclusivity(unchecked) public internal(set) var start: UInt64
    @exclusivity(unchecked) public internal(set) var end: UInt64
    /// entry->object.vm_object (nil until the first fault or clip for anonymous memory).
    @exclusivity(unchecked) public internal(set) var object: VMObject?
    /// entry->offset: byte offset into the object.
    @exclusivity(unchecked) public internal(set) var offset: UInt64
    @exclusivity(unchecked) public internal(set) var eflags: EntryFlags
    @exclusivity(unchecked) public internal(set) var protection: VMProt
    @exclusivity(unchecked) public internal(set) var maxProtection: VMProt
    @exclusivity(unchecked) public internal(set) var inheritance: Inheritance
    @exclusivity(unchecked) public internal(set) var wiredCount: Int32 = 0
    @exclusivity(unchecked) public internal(set) var maptype: MapType
    let subsystem: MapSubsystem
    /// aux.avail_ssize: how far a stack entry may still grow down.
    @exclusivity(unchecked) var availSSize: UInt64 = 0
    /// The entry's PTEs were entered with max_protection (vm_fault_copy_entry at fork,
    /// seed:2445; a user wiring through the OVERRIDE_WRITE lookup, seed:462): the access audit
    /// lets them carry those rights. Kept by clipping.
    @exclusivity(unchecked) var ptesAtMaxProtection = false
    /// aux.master_pde: a VPAGETABLE entry's master page-directory entry (MADV_SETMAP).
    @exclusivity(unchecked) public internal(set) var masterPDE: UInt64 = 0

    init(start: UInt64, end: UInt64, object: VMObject?, offset: UInt64, eflags: EntryFlags,
         protection: VMProt, maxProtection: VMProt, inheritance: Inheritance = .copy,
         maptype: MapType = .normal, subsystem: MapSubsystem)
    {
        self.start = start
        self.end = end
        self.object = object
        self.offset = offset
        self.eflags = eflags
        self.protection = protection
        self.maxProtection = maxProtection
        self.inheritance = inheritance
        self.maptype = maptype
        self.subsystem = subsystem
    }

    /// A copy of the entry's fields (vm_map_entry clone), without wiring.
    func clone() -> VMMapEntry {
        let e = VMMapEntry(start: start, end: end, object: object, offset: offset, eflags: eflags,
                           protection: protection, maxProtection: maxProtection,
                           inheritance: inheritance, maptype: maptype, subsystem: subsystem)
        e.availSSize = availSSize
        e.ptesAtMaxProtection = ptesAtMaxProtection
        e.masterPDE = masterPDE
        return e
    }

    /// vm_map_entry_behavior
    var behavior: MapBehavior {
        if eflags.contains(.behavRandom) { return .random }
        if eflags.contains(.behavSequential) { return .sequential }
        return .normal
    }

    var pageCount: Int64 { Int64((end - start) >> pageShift) }

    /// VM_MAP_ENTRY_WITHIN_PARTITION: `((start ^ end) & ~MASK) == 0`. Note it tests `end`, not
    /// `end - 1`, so an entry ending exactly on a 32 MB boundary counts as spanning partitions.
    var withinPartition: Bool { ((start ^ end) & ~(mapEntryPartitionSize - 1)) == 0 }
}
