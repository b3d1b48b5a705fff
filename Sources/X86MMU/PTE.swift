// An x86-64 4-level paging-structure entry, as the hardware reads it (Intel SDM Vol. 3A §4.5,
// Tables 4-14 to 4-20). Every entry in this simulator is 64 bits in the same layout; a leaf maps
// one 4 KiB page (large pages are not modelled: DragonFly's user pmap maps 4 KiB pages).

/// An x86-64 page-table entry (4 KiB leaf or a non-leaf entry).
///
/// A trivial value over its raw 64 bits, so the pmap and the MMU both manipulate PTEs with plain
/// integer operations; every accessor is `@inlinable` so the kernel module inlines them.
public struct PTE: Equatable, Hashable, Sendable {
    public var raw: UInt64

    @inlinable @inline(__always)
    public init(raw: UInt64) { self.raw = raw }

    /// A PTE mapping physical page `frame` with the flag bits `flags` (the flags must not overlap
    /// the frame field, bits 12..51).
    @inlinable @inline(__always)
    public init(frame: UInt64, flags: UInt64) {
        assert(frame <= PTE.frameMask >> 12, "frame does not fit in bits 12..51")
        assert(flags & PTE.frameMask == 0, "flags overlap the frame field")
        raw = (frame << 12) & PTE.frameMask | flags
    }

    // MARK: Hardware bits (SDM Table 4-19, "Format of a Page-Table Entry that Maps a 4-KByte Page")

    /// P: the entry maps something; with P=0 every other bit is ignored by the walk (§4.5.4).
    public static let present: UInt64 = 1 << 0
    /// R/W: writes allowed. Effective at CPL 0 too, since DragonFly runs with CR0.WP=1.
    public static let writable: UInt64 = 1 << 1
    /// U/S: user-mode (CPL 3) accesses allowed.
    public static let user: UInt64 = 1 << 2
    /// A: set by the processor when a walk uses the entry (§4.8).
    public static let accessed: UInt64 = 1 << 5
    /// D: set by the processor on a write through a leaf (§4.8); ignored in non-leaf entries.
    public static let dirty: UInt64 = 1 << 6
    /// G: global (CR4.PGE=1); the TLB keeps such translations across CR3 loads (§4.10.2.4).
    /// Not in the original API: added because `MMU.activate` flushes only non-global entries.
    public static let global: UInt64 = 1 << 8
    /// XD/NX: instruction fetches forbidden (EFER.NXE=1, as DragonFly's initializecpu sets it).
    public static let noExecute: UInt64 = 1 << 63

    // MARK: Software bits DragonFly's pmap uses (AVAIL1..3, ignored by the hardware)

    /// PG_W (X86_PG_AVAIL1): the mapping is wired.
    public static let wired: UInt64 = 1 << 9
    /// PG_MANAGED (X86_PG_AVAIL2): the page is managed (has a pv entry).
    public static let managed: UInt64 = 1 << 10
    /// PG_DEVICE (X86_PG_AVAIL3): the page is device memory (no vm_page behind it).
    public static let device: UInt64 = 1 << 11

    // MARK: Simulator instrumentation

    /// Not a hardware feature: simulator instrumentation kept in bit 52, one of the bits the
    /// processor ignores in a 4-level leaf (SDM Table 4-19, bits 58:52 "Ignored").
    ///
    /// The OS sets it on a PTE it wants to hear about; the MMU clears it on the first successful
    /// translation that walks to this PTE and reports that translation as
    /// `TranslateResult.firstUseOfWatched`. TLBs never cache it, so only a walk can see it.
    public static let watch: UInt64 = 1 << 52

    /// The physical-address field, bits 12..51 (MAXPHYADDR = 52).
    public static let frameMask: UInt64 = 0x000F_FFFF_FFFF_F000

    // MARK: Accessors

    /// Physical page number, bits 12..51. In a non-leaf entry of a `PageTable` this holds the
    /// index of the child table page instead.
    @inlinable
    public var frame: UInt64 {
        @inline(__always) get { (raw & PTE.frameMask) >> 12 }
        @inline(__always) set {
            assert(newValue <= PTE.frameMask >> 12, "frame does not fit in bits 12..51")
            raw = raw & ~PTE.frameMask | (newValue << 12) & PTE.frameMask
        }
    }

    /// Every bit outside the frame field.
    @inlinable
    public var flags: UInt64 { @inline(__always) get { raw & ~PTE.frameMask } }

    /// Whether all of `bits` are set.
    @inlinable @inline(__always)
    public func has(_ bits: UInt64) -> Bool { raw & bits == bits }

    @inlinable public var isPresent: Bool { @inline(__always) get { raw & PTE.present != 0 } }
    @inlinable public var isWritable: Bool { @inline(__always) get { raw & PTE.writable != 0 } }
    @inlinable public var isUser: Bool { @inline(__always) get { raw & PTE.user != 0 } }
    @inlinable public var isAccessed: Bool { @inline(__always) get { raw & PTE.accessed != 0 } }
    @inlinable public var isDirty: Bool { @inline(__always) get { raw & PTE.dirty != 0 } }
    @inlinable public var isGlobal: Bool { @inline(__always) get { raw & PTE.global != 0 } }
    @inlinable public var isNoExecute: Bool { @inline(__always) get { raw & PTE.noExecute != 0 } }
    @inlinable public var isWired: Bool { @inline(__always) get { raw & PTE.wired != 0 } }
    @inlinable public var isManaged: Bool { @inline(__always) get { raw & PTE.managed != 0 } }
    @inlinable public var isDevice: Bool { @inline(__always) get { raw & PTE.device != 0 } }
    @inlinable public var isWatched: Bool { @inline(__always) get { raw & PTE.watch != 0 } }
}

extension PTE {
    /// Whether leaf (or cached TLB) bits `bits` grant every right in `need`, a mask of
    /// `writable` (a write), `user` (a CPL 3 access) and `noExecute` (a fetch). XD is inverted
    /// first, so "a fetch needs XD=0" becomes "needs bit 63 set" and one mask test checks all
    /// three rights (SDM §4.6: R/W at any CPL as CR0.WP=1, U/S for CPL 3, XD with EFER.NXE=1).
    @inlinable @inline(__always)
    static func grants(_ bits: UInt64, _ need: UInt64) -> Bool {
        (bits ^ PTE.noExecute) & need == need
    }
}

extension PTE: CustomStringConvertible {
    /// `PTE(frame: 0x1234, P RW U A D)` — for test failures and debugging, not the hot path.
    public var description: String {
        let names: [(UInt64, String)] = [
            (PTE.present, "P"), (PTE.writable, "RW"), (PTE.user, "U"), (PTE.accessed, "A"),
            (PTE.dirty, "D"), (PTE.global, "G"), (PTE.wired, "W"), (PTE.managed, "MANAGED"),
            (PTE.device, "DEVICE"), (PTE.watch, "WATCH"), (PTE.noExecute, "NX"),
        ]
        let set = names.filter { raw & $0.0 != 0 }.map(\.1)
        return "PTE(frame: 0x\(String(frame, radix: 16))\(set.isEmpty ? "" : ", ")\(set.joined(separator: " ")))"
    }
}
