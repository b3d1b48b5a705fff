// The `.vmt` binary trace format, version 1. docs/trace-format.md describes it byte by byte;
// keep the two in step (and bump `version` for any incompatible change).
//
//   header : 89 56 4D 54 0D 0A 1A 0A, version (1 byte, = 1), reserved (1 byte, = 0)
//   record*: tag byte, then LEB128 varints
//   end    : tag 00, varint count of records before it; nothing may follow
//
// Accesses (tag bit 7 set) carry their kind in the tag, omit the pid when it is the previous
// access's, and code the address as a zigzag delta against the previous address of the same
// pid, or not at all when the delta repeats the previous one (strided runs cost one byte).

enum BinaryTrace {
    /// `\x89VMT\r\n\x1a\n`: non-text first byte, catches newline translation and truncation.
    static let magic: [UInt8] = [0x89, 0x56, 0x4D, 0x54, 0x0D, 0x0A, 0x1A, 0x0A]
    static let version: UInt8 = 1
    static let headerSize = 10

    // Tags of the records that are not accesses (bit 7 clear).
    static let tagEnd: UInt8 = 0x00
    static let tagFile: UInt8 = 0x01
    static let tagProc: UInt8 = 0x02
    static let tagThreads: UInt8 = 0x03
    static let tagFork: UInt8 = 0x04
    static let tagExec: UInt8 = 0x05
    static let tagExit: UInt8 = 0x06
    static let tagMmap: UInt8 = 0x07
    static let tagMunmap: UInt8 = 0x08
    static let tagMprotect: UInt8 = 0x09
    static let tagMadvise: UInt8 = 0x0A
    static let tagMlock: UInt8 = 0x0B
    static let tagMunlock: UInt8 = 0x0C
    static let tagDropCaches: UInt8 = 0x0D
    static let tagStore: UInt8 = 0x0E
    /// The madvise ADVICE byte of `setmap`, followed by the VALUE varint.
    static let adviceSetmap: UInt8 = 7

    // Access tag: 1 KKK P D SS.
    static let accessBit: UInt8 = 0x80
    /// P: a pid varint follows (else: the pid of the previous access record).
    static let pidBit: UInt8 = 0x08
    /// D: a zigzag address-delta varint follows (else: the pid's previous delta again).
    static let deltaBit: UInt8 = 0x04
    /// SS: 0 → size 1, 1 → size 4, 2 → size 8, 3 → a size varint follows.
    static let sizeMask: UInt8 = 0x03

    // mmap flags varint bits.
    static let mmapProtMask: UInt64 = 0x7
    static let mmapFlagShift: UInt64 = 3
    static let mmapFlagMask: UInt64 = 0x1f << 3
    static let mmapHasFile: UInt64 = 1 << 8
    static let mmapHasOffset: UInt64 = 1 << 9
    static let mmapVPageTable: UInt64 = 1 << 10

    /// Entries of the per-pid address table (indexed by `pid & (slots - 1)`).
    static let pidSlots = 256

    /// Room any record but `file` needs (tag + up to 6 varints of 10 bytes).
    static let maxFixedRecord = 64
}

/// The per-pid state encoder and decoder keep in step: the last address and last delta of
/// each pid's accesses. A direct-mapped table: a pid that lands on another pid's slot starts
/// over from address 0 and delta 0. (A class over raw memory: no exclusivity checks on the
/// hot path.)
final class PidAddressTable {
    struct Slot {
        var pid: UInt32 = 0
        var address: UInt64 = 0
        var delta: UInt64 = 0
    }

    private let slots: UnsafeMutablePointer<Slot>

    init() {
        slots = .allocate(capacity: BinaryTrace.pidSlots)
        slots.initialize(repeating: Slot(), count: BinaryTrace.pidSlots)
    }

    deinit { slots.deallocate() }

    /// The slot of `pid`, reset when another pid held it.
    @inline(__always)
    func slot(_ pid: UInt32) -> UnsafeMutablePointer<Slot> {
        let s = slots + (Int(pid) & (BinaryTrace.pidSlots - 1))
        if s.pointee.pid != pid { s.pointee = Slot(pid: pid) }
        return s
    }
}

@inline(__always)
func zigzag(_ v: UInt64) -> UInt64 {
    let s = Int64(bitPattern: v)
    return UInt64(bitPattern: (s << 1) ^ (s >> 63))
}

@inline(__always)
func unzigzag(_ v: UInt64) -> UInt64 {
    (v >> 1) ^ (0 &- (v & 1))
}

extension ByteCursor {
    @inline(__always)
    mutating func putVarint(_ value: UInt64) {
        var v = value
        while v >= 0x80 {
            put(UInt8(truncatingIfNeeded: v) | 0x80)
            v >>= 7
        }
        put(UInt8(truncatingIfNeeded: v))
    }
}

/// Encodes events as `.vmt` records.
final class BinaryTraceEncoder {
    private let table = PidAddressTable()
    private var previousPid: UInt32 = 0
    private(set) var records: UInt64 = 0

    /// Room `encode` may need for `event`.
    static func maxBytes(_ event: TraceEvent) -> Int {
        if case .file(_, _, _, let path) = event { return 40 + path.utf8.count }
        return BinaryTrace.maxFixedRecord
    }

    static func writeHeader(into c: inout ByteCursor) {
        for b in BinaryTrace.magic { c.put(b) }
        c.put(BinaryTrace.version)
        c.put(0)
    }

    func writeEnd(into c: inout ByteCursor) {
        c.put(BinaryTrace.tagEnd)
        c.putVarint(records)
    }

    @inline(__always)
    func encode(_ event: TraceEvent, into c: inout ByteCursor) {
        records += 1
        switch event {
        case .access(let a):
            var tag = BinaryTrace.accessBit | a.kind.rawValue << 4
            let pidChanged = a.pid != previousPid
            if pidChanged {
                tag |= BinaryTrace.pidBit
                previousPid = a.pid
            }
            let slot = table.slot(a.pid)
            let delta = a.address &- slot.pointee.address
            slot.pointee.address = a.address
            let deltaChanged = delta != slot.pointee.delta
            if deltaChanged {
                slot.pointee.delta = delta
                tag |= BinaryTrace.deltaBit
            }
            let sizeCode: UInt8
            switch a.size {
            case 1: sizeCode = 0
            case 4: sizeCode = 1
            case 8: sizeCode = 2
            default: sizeCode = 3
            }
            c.put(tag | sizeCode)
            if pidChanged { c.putVarint(UInt64(a.pid)) }
            if deltaChanged { c.putVarint(zigzag(delta)) }
            if sizeCode == 3 { c.putVarint(UInt64(a.size)) }
        case .file(let id, let size, let resident, let path):
            c.put(BinaryTrace.tagFile)
            c.putVarint(UInt64(id))
            c.putVarint(size)
            c.put(resident ? 1 : 0)
            c.putVarint(UInt64(path.utf8.count))
            c.put(path.string)
        case .proc(let pid, let threads):
            c.put(BinaryTrace.tagProc)
            c.putVarint(UInt64(pid))
            c.putVarint(UInt64(threads))
        case .threads(let pid, let count):
            c.put(BinaryTrace.tagThreads)
            c.putVarint(UInt64(pid))
            c.putVarint(UInt64(count))
        case .fork(let parent, let child):
            c.put(BinaryTrace.tagFork)
            c.putVarint(UInt64(parent))
            c.putVarint(UInt64(child))
        case .exec(let pid):
            c.put(BinaryTrace.tagExec)
            c.putVarint(UInt64(pid))
        case .exit(let pid):
            c.put(BinaryTrace.tagExit)
            c.putVarint(UInt64(pid))
        case .mmap(let m):
            putRange(&c, BinaryTrace.tagMmap, m.pid, m.address, m.length)
            var bits = UInt64(m.protection.rawValue) | UInt64(m.flags.rawValue & 0x1f) << BinaryTrace.mmapFlagShift
            if m.fileID != nil { bits |= BinaryTrace.mmapHasFile }
            if m.offset != 0 { bits |= BinaryTrace.mmapHasOffset }
            if m.flags.contains(.vpagetable) { bits |= BinaryTrace.mmapVPageTable }
            c.putVarint(bits)
            if let fid = m.fileID { c.putVarint(UInt64(fid)) }
            if m.offset != 0 { c.putVarint(m.offset) }
        case .munmap(let pid, let address, let length):
            putRange(&c, BinaryTrace.tagMunmap, pid, address, length)
        case .mprotect(let pid, let address, let length, let protection):
            putRange(&c, BinaryTrace.tagMprotect, pid, address, length)
            c.put(protection.rawValue)
        case .madvise(let pid, let address, let length, let advice):
            putRange(&c, BinaryTrace.tagMadvise, pid, address, length)
            c.put(advice.rawValue)
        case .mlock(let pid, let address, let length):
            putRange(&c, BinaryTrace.tagMlock, pid, address, length)
        case .munlock(let pid, let address, let length):
            putRange(&c, BinaryTrace.tagMunlock, pid, address, length)
        case .dropCaches:
            c.put(BinaryTrace.tagDropCaches)
        case .setmap(let pid, let address, let length, let value):
            putRange(&c, BinaryTrace.tagMadvise, pid, address, length)
            c.put(BinaryTrace.adviceSetmap)
            c.putVarint(value)
        case .store(let pid, let address, let value):
            c.put(BinaryTrace.tagStore)
            c.putVarint(UInt64(pid))
            c.putVarint(address)
            c.putVarint(value)
        }
    }

    private func putRange(_ c: inout ByteCursor, _ tag: UInt8, _ pid: UInt32, _ address: UInt64, _ length: UInt64) {
        c.put(tag)
        c.putVarint(UInt64(pid))
        c.putVarint(address)
        c.putVarint(length)
    }
}
