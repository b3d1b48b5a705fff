// struct vm_page (sys/vm/vm_page.h): one physical page frame and its identity in a VM object.
//
// Page frames are permanent, as DragonFly's vm_page_array is: `PhysicalMemory` keeps one
// `PageRecord` per frame, in fixed chunks that never move, from the frame's first use to the end
// of the machine; a freed page is simply back on the free queue. A `VMPage` is a pointer to its
// record (what `vm_page_t` is in C): copying one costs no reference counting, and a page costs 64
// bytes, one cache line, where a class instance per frame cost 128 plus a table entry.

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

/// The fields of one struct vm_page, laid out in 64 bytes. Queue links are frame numbers plus one
/// (0: none), resolved through `VMPageArray`; only RAM frames, numbered below 2^32 - 1, are
/// ever queued. The first pv entry is inline (most pages have at most one mapping).
struct PageRecord {
    var object: VMObject?
    var pindex: Int64 = 0
    let frame: UInt64
    var pvFirstVA: UInt64 = 0
    var pvMore: [PVEntry] = []
    var wireCount: Int32 = 0
    var queueNext: UInt32 = 0
    var queuePrev: UInt32 = 0
    /// The first pv entry's pmap id; 0 when the page has no mapping (pmap ids start at 1).
    var pvFirstPmap: UInt32 = 0
    var holdCount: Int16 = 0
    var flags: PageFlags = []
    var queue: PageQueue = .none
    var actCount: UInt8 = 0
    var valid = false
    var dirty = false

    init(frame: UInt64) { self.frame = frame }
}

/// vm_page_t: a page frame, by reference to its record. Two VMPages are equal when they are the
/// same frame.
public struct VMPage: Equatable {
    let record: UnsafeMutablePointer<PageRecord>

    init(record: UnsafeMutablePointer<PageRecord>) { self.record = record }

    /// Physical frame number.
    public var frame: UInt64 { record.pointee.frame }
    /// The object the page belongs to, nil when free.
    public internal(set) var object: VMObject? {
        get { record.pointee.object }
        nonmutating set { record.pointee.object = newValue }
    }
    /// Page index within `object`.
    public internal(set) var pindex: Int64 {
        get { record.pointee.pindex }
        nonmutating set { record.pointee.pindex = newValue }
    }
    /// m->valid == VM_PAGE_BITS_ALL (the simulation has no partially valid pages).
    public internal(set) var valid: Bool {
        get { record.pointee.valid }
        nonmutating set { record.pointee.valid = newValue }
    }
    /// m->dirty != 0
    public internal(set) var dirty: Bool {
        get { record.pointee.dirty }
        nonmutating set { record.pointee.dirty = newValue }
    }
    public internal(set) var flags: PageFlags {
        get { record.pointee.flags }
        nonmutating set { record.pointee.flags = newValue }
    }
    public internal(set) var queue: PageQueue {
        get { record.pointee.queue }
        nonmutating set { record.pointee.queue = newValue }
    }
    public internal(set) var actCount: UInt8 {
        get { record.pointee.actCount }
        nonmutating set { record.pointee.actCount = newValue }
    }
    public internal(set) var wireCount: Int32 {
        get { record.pointee.wireCount }
        nonmutating set { record.pointee.wireCount = newValue }
    }
    /// hold_count; pages are held only for the length of a fault or a pageout, so 16 bits hold it.
    public internal(set) var holdCount: Int32 {
        get { Int32(record.pointee.holdCount) }
        nonmutating set { record.pointee.holdCount = Int16(truncatingIfNeeded: newValue) }
    }

    /// Number of pmap mappings of this page.
    public var mappingCount: Int { (record.pointee.pvFirstPmap == 0 ? 0 : 1) + record.pointee.pvMore.count }

    func addMapping(_ pv: PVEntry) {
        if record.pointee.pvFirstPmap == 0 {
            record.pointee.pvFirstPmap = pv.pmapID
            record.pointee.pvFirstVA = pv.va
        } else {
            record.pointee.pvMore.append(pv)
        }
    }

    private var pvFirst: PVEntry? {
        let id = record.pointee.pvFirstPmap
        return id == 0 ? nil : PVEntry(pmapID: id, va: record.pointee.pvFirstVA)
    }

    func removeMapping(_ pv: PVEntry) {
        if pvFirst == pv {
            if let next = record.pointee.pvMore.popLast() {
                record.pointee.pvFirstPmap = next.pmapID
                record.pointee.pvFirstVA = next.va
            } else {
                record.pointee.pvFirstPmap = 0
                record.pointee.pvFirstVA = 0
            }
        } else if let i = record.pointee.pvMore.firstIndex(of: pv) {
            record.pointee.pvMore.remove(at: i)
        }
    }

    /// A snapshot of the mappings (callers remove mappings while iterating).
    var mappings: [PVEntry] {
        guard let first = pvFirst else { return [] }
        return [first] + record.pointee.pvMore
    }

    /// Mapping of this page in one pmap, if any.
    func mapping(in pmapID: UInt32) -> PVEntry? {
        if let f = pvFirst, f.pmapID == pmapID { return f }
        return record.pointee.pvMore.first { $0.pmapID == pmapID }
    }

    func setFlag(_ f: PageFlags) { record.pointee.flags.insert(f) }
    func clearFlag(_ f: PageFlags) { record.pointee.flags.remove(f) }

    /// vm_page_dirty
    func markDirty() { record.pointee.dirty = true }

    /// Resets identity when the frame returns to the free queue.
    func resetForFree() {
        let frame = record.pointee.frame
        let (next, prev) = (record.pointee.queueNext, record.pointee.queuePrev)
        record.pointee = PageRecord(frame: frame)
        record.pointee.queueNext = next
        record.pointee.queuePrev = prev
    }
}
