// struct vm_page (sys/vm/vm_page.h): one physical page frame and its identity in a VM object.
//
// Page frames are permanent, as DragonFly's vm_page_array is: `PhysicalMemory` creates a VMPage
// per frame the first time the frame is used and keeps it for the life of the machine; a freed
// page is simply back on the free queue. That is also why the strong links between pages and
// queues below never leak: every VMPage lives as long as the machine.

/// m->flags bits that matter to the fault path (vm_page.h).
public struct PageFlags: OptionSet, Hashable, Sendable {
    public let rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }
    public static let winatcfls = PageFlags(rawValue: 1 << 0) // PG_WINATCFLS: pageout second chance
    public static let fictitious = PageFlags(rawValue: 1 << 1) // PG_FICTITIOUS
    public static let writeable = PageFlags(rawValue: 1 << 2) // PG_WRITEABLE: has a RW mapping
    public static let mapped = PageFlags(rawValue: 1 << 3) // PG_MAPPED
    public static let referenced = PageFlags(rawValue: 1 << 4) // PG_REFERENCED
    public static let cleanchk = PageFlags(rawValue: 1 << 5) // PG_CLEANCHK
    public static let swapinprog = PageFlags(rawValue: 1 << 6) // PG_SWAPINPROG
    public static let nosync = PageFlags(rawValue: 1 << 7) // PG_NOSYNC
    public static let unmanaged = PageFlags(rawValue: 1 << 8) // PG_UNMANAGED
    public static let ram = PageFlags(rawValue: 1 << 9) // PG_RAM: read-ahead mark
    public static let swapped = PageFlags(rawValue: 1 << 10) // PG_SWAPPED: has swap backing
}

/// The page queues (vm_page.h). DragonFly splits each into 512 colour sub-queues; a single CPU
/// replay gains nothing from colours, so each queue here is one list.
public enum PageQueue: UInt8, Sendable {
    case none = 0, free, inactive, active, cache, hold
}

/// Activity counter constants (vm_page.h).
let actInit: UInt8 = 5
let actAdvance: UInt8 = 3
let actDecline: UInt8 = 1
let actMax: UInt8 = 64

/// A pmap mapping of a page (a pv_entry): which pmap, which virtual address.
struct PVEntry: Equatable {
    var pmapID: UInt32
    var va: UInt64
}

public final class VMPage {
    /// Physical frame number (index into PhysicalMemory.pages).
    public let frame: UInt64
    /// The object the page belongs to, nil when free.
    @exclusivity(unchecked) public internal(set) var object: VMObject?
    /// Page index within `object`.
    @exclusivity(unchecked) public internal(set) var pindex: Int64 = 0
    /// m->valid == VM_PAGE_BITS_ALL (the simulation has no partially valid pages).
    @exclusivity(unchecked) public internal(set) var valid = false
    /// m->dirty != 0
    @exclusivity(unchecked) public internal(set) var dirty = false
    @exclusivity(unchecked) public internal(set) var flags: PageFlags = []
    @exclusivity(unchecked) public internal(set) var queue: PageQueue = .none
    @exclusivity(unchecked) public internal(set) var actCount: UInt8 = 0
    @exclusivity(unchecked) public internal(set) var wireCount: Int32 = 0
    @exclusivity(unchecked) public internal(set) var holdCount: Int32 = 0
    /// Swap block of the page's contents, if it was paged out (swap pager metadata, per page).
    @exclusivity(unchecked) var swapBlock: Int64 = -1

    // Queue links (intrusive doubly linked list, see VMPageQueues).
    @exclusivity(unchecked) var queueNext: VMPage?
    @exclusivity(unchecked) var queuePrev: VMPage?

    // pv list: the first mapping inline (most pages have at most one), the rest overflow.
    @exclusivity(unchecked) private var pvFirst: PVEntry?
    @exclusivity(unchecked) private var pvMore: [PVEntry] = []

    init(frame: UInt64) {
        self.frame = frame
    }

    /// Number of pmap mappings of this page.
    public var mappingCount: Int { (pvFirst == nil ? 0 : 1) + pvMore.count }

    func addMapping(_ pv: PVEntry) {
        if pvFirst == nil { pvFirst = pv } else { pvMore.append(pv) }
    }

    func removeMapping(_ pv: PVEntry) {
        if pvFirst == pv {
            pvFirst = pvMore.popLast()
        } else if let i = pvMore.firstIndex(of: pv) {
            pvMore.remove(at: i)
        }
    }

    /// A snapshot of the mappings (callers remove mappings while iterating).
    var mappings: [PVEntry] {
        guard let first = pvFirst else { return [] }
        return [first] + pvMore
    }

    /// Mapping of this page in one pmap, if any.
    func mapping(in pmapID: UInt32) -> PVEntry? {
        if let f = pvFirst, f.pmapID == pmapID { return f }
        return pvMore.first { $0.pmapID == pmapID }
    }

    func setFlag(_ f: PageFlags) { flags.insert(f) }
    func clearFlag(_ f: PageFlags) { flags.remove(f) }

    /// vm_page_dirty
    func markDirty() { dirty = true }

    /// Resets identity when the frame returns to the free queue.
    func resetForFree() {
        object = nil
        pindex = 0
        valid = false
        dirty = false
        flags = []
        actCount = 0
        wireCount = 0
        holdCount = 0
        swapBlock = -1
        pvFirst = nil
        pvMore.removeAll()
    }
}
