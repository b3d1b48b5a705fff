// Virtual page tables: what a DragonFly vkernel maps its guest memory with. A VPAGETABLE entry
// (mmap MAP_VPAGETABLE) translates a fault through page tables that live in the entry's own
// backing object: the master page-directory entry set by mcontrol(MADV_SETMAP) points at the
// top table, each VPTE at the next, and the last gives the object page to map
// (vm_fault_vpagetable, seed:1386-1513). The VPTEs are the words `store` events left in the
// object's pages (PageContents.swift).
//
// Where the rest of the kernel treats these entries differently, each place cites its rule:
//   - vm_map_lookup: a writable VPAGETABLE entry upgrades the fault to a write, so a read on a
//     NEEDS_COPY entry shadows it too (research §2.1 item 7; VMMap.swift);
//   - objects of VPAGETABLE entries are 0x7FFFFFFF pages, whatever the entry's length
//     (vm_map_entry_allocate_object / vm_map_entry_shadow, research §2.1 items 10-11);
//   - vm_fault (seed:627) and vm_fault_page (seed:1081) walk the table before vm_fault_object;
//     vm_fault_object_page's walk (seed:1285) is under `#if 0`, and so is vm_fault_object's own
//     read-only downgrade for these entries (seed:1577-1583): the walk's first_prot downgrade
//     (seed:1496) is what maps reads read-only;
//   - vm_fault_wire handles NORMAL and VPAGETABLE entries alike (seed:2328-2333);
//   - vm_prefault and vm_prefault_quick refuse every non-NORMAL entry (seed:2732, seed:3029),
//     vm_map_insert does not prefault them at mmap time, nor does MADV_WILLNEED (vm_map.c).

/// The 64-bit VPTE layout of sys/sys/vkernel.h (LONG_BIT == 64).
public enum VPTE {
    /// VPTE_V: valid.
    public static let valid: UInt64 = 0x1
    /// VPTE_RW: writable.
    public static let readWrite: UInt64 = 0x2
    /// VPTE_U: user access (managed vmspaces; the walk does not test it).
    public static let user: UInt64 = 0x4
    /// VPTE_A: accessed, written back by the walk.
    public static let accessed: UInt64 = 0x20
    /// VPTE_M: modified, written back by a write fault.
    public static let modified: UInt64 = 0x40
    /// VPTE_PS: this entry maps directly; the walk stops here (the master entry too).
    public static let pageSize: UInt64 = 0x80
    /// VPTE_NX: no execute. Not in the vkernel.h of the tree the research notes read (2017);
    /// bit 63 as x86's NX bit, as issue 12 states (unconfirmed against a later header).
    public static let noExecute: UInt64 = 1 << 63
    /// VPTE_FRAME as vkernel.h defines it for 64-bit: bits 12-51 (0x000FFFFFFFFFF000).
    public static let frame: UInt64 = 0x000F_FFFF_FFFF_F000
    /// VPTE_FRAME_END: address bits a table translates (48), so 36 index bits above the page.
    public static let frameEnd: UInt64 = 48
    /// VPTE_PAGE_BITS: index bits per table level (512 entries of 8 bytes).
    public static let pageBits: UInt64 = 9
    /// VPTE_PAGE_MASK
    public static let pageMask: UInt64 = (1 << pageBits) - 1
}

/// vm_map_entry_allocate_object / vm_map_entry_shadow size VPAGETABLE objects at 0x7FFFFFFF
/// pages (research §2.1 items 10-11): the table can point anywhere in the object.
let vpagetableObjectPages: Int64 = 0x7FFF_FFFF

extension VMMapEntry {
    /// The size of an object made for this entry (allocated lazily or as a COW shadow).
    var objectPageCount: Int64 { maptype == .vpagetable ? vpagetableObjectPages : pageCount }
}

extension Kernel {
    /// vm_fault_vpagetable(fs, &pindex, vpte, fault_type, allow_nofault) (seed:1386): turn the
    /// entry-relative page index into the object page the virtual page table names. On failure
    /// fs is unlocked (the seed's unlock_and_deallocate) and the caller's fault fails.
    func vmFaultVPageTable(_ fs: inout FaultState, _ pindex: inout Int64, _ masterPDE: UInt64,
                           _ faultType: VMProt, allowNofault: Bool) -> KernReturn
    {
        var vpte = masterPDE
        // seed:1391 index bits still to translate.
        var vshift = VPTE.frameEnd - pageShift
        while true {
            // seed:1402-1413 a VPTE that forbids the access fails the fault with KERN_FAILURE,
            // which trap() delivers as SIGSEGV/SEGV_MAPERR, even for a write to a read-only VPTE.
            if vpte & VPTE.valid == 0
                || (faultType.contains(.write) && vpte & VPTE.readWrite == 0)
                || (faultType.contains(.execute) && vpte & VPTE.noExecute != 0)
            {
                unlockThings(&fs)
                return .failure
            }
            // seed:1414 a direct mapping, or the last level.
            if vpte & VPTE.pageSize != 0 || vshift == 0 { break }

            // seed:1424 fault the table page in as a write: the walk sets A and M in it.
            let result = vmFaultObject(&fs, Int64(bitPattern: (vpte & VPTE.frame) >> pageShift),
                                       [.read, .write], allowNofault: allowNofault)
            if result != .success { return result }
            guard let m = fs.m else { return .failure }

            // seed:1434-1438 the entry of this level, and the table page is active.
            vshift -= VPTE.pageBits
            let index = Int((UInt64(bitPattern: pindex) >> vshift) & VPTE.pageMask)
            physmem.activate(m, meter: &meter)

            // seed:1452-1476 write A (and M for a write through a writable VPTE) back into the
            // table; a changed entry dirties the table page. An invalid entry is left alone.
            vpte = pageWord(m, index)
            if vpte & VPTE.valid != 0 {
                var nvpte = vpte
                if faultType.contains(.write) && vpte & VPTE.readWrite != 0 {
                    nvpte |= VPTE.modified | VPTE.accessed
                }
                if !faultType.isDisjoint(with: [.read, .execute]) { nvpte |= VPTE.accessed }
                if nvpte != vpte {
                    setPageWord(m, index, nvpte)
                    m.markDirty()
                }
            }
            // seed:1478-1481
            m.setFlag(.referenced)
            fs.m = nil
            cleanupSuccessfulFault(&fs)
        }

        // seed:1496 a read through a VPTE that is not both writable and modified maps the page
        // read-only, so the first write faults and sets VPTE_M (the vkernel clears M and uses
        // MADV_INVAL to see the next write).
        if !faultType.contains(.write) && vpte & (VPTE.readWrite | VPTE.modified) != VPTE.readWrite | VPTE.modified {
            fs.firstProt.remove(.write)
        }
        // seed:1504
        if vpte & VPTE.noExecute != 0 { fs.firstProt.remove(.execute) }
        // seed:1510 the frame plus the index bits below the level that ended the walk.
        let low = UInt64(bitPattern: pindex) & ((1 << vshift) - 1)
        pindex = Int64(bitPattern: ((vpte & VPTE.frame) >> pageShift) &+ low)
        return .success
    }

    // MARK: mcontrol: MADV_SETMAP and MADV_INVAL (vm_map.c vm_map_madvise)

    /// `madvise PID ADDR LEN setmap VALUE`: mcontrol(MADV_SETMAP). vm_map_madvise clips the
    /// range's entries and, for each, sets the master page-directory entry and removes the real
    /// PTEs (pmap_remove); an entry that is not VPAGETABLE makes the call fail with EINVAL
    /// (counted) but does not stop the walk, so the other entries still change.
    public func madviseSetmap(pid: UInt32, address: UInt64, length: UInt64, value: UInt64) throws(KernelError) {
        let p = try process(pid)
        try checkRange(address, length)
        switchTo(p)
        // sys_mcontrol (vm_mmap.c): a range past VM_MAX_USER_ADDRESS is EINVAL, as for madvise.
        guard inUserSpace(address, length) else { return syscallFailed() }
        let map = p.map
        var failed = false
        // The clip first, then the entries: `map.entries[vmMapClipRange(...)]` would read the
        // list before the clip changes it (a stale copy; a fuzz finding, scenario 77).
        let range = vmMapClipRange(map, address, address + length)
        for entry in map.entries[range] {
            guard entry.maptype == .vpagetable else {
                failed = true
                continue
            }
            entry.masterPDE = value
            pmapRemove(map.pmap, entry.start, entry.end)
        }
        simplifyRange(map, address, address + length)
        if failed { syscallFailed() }
    }

    /// MADV_INVAL (vm_map_madvise): clip, then pmap_remove every entry of the range, so the next
    /// access faults and walks the virtual page table again.
    func vmMapMadviseInval(_ map: VMMap, _ start: UInt64, _ end: UInt64) {
        let range = vmMapClipRange(map, start, end)
        for entry in map.entries[range] {
            pmapRemove(map.pmap, entry.start, entry.end)
        }
        simplifyRange(map, start, end)
    }

    /// sys_mmap's MAP_VPAGETABLE checks (vm_mmap.c): not with MAP_STACK (the entry's aux union
    /// holds either the stack size or the master entry), and read+write, since the kernel writes
    /// A/M bits into the table. They come before MAP_FIXED removes anything. A uksmap device
    /// mapping cannot also be a VPAGETABLE one (a choice: the two map types exclude each other).
    func vpagetableMmapAllowed(_ req: MmapRequest) -> Bool {
        !req.stack && !req.uksmap && req.protection.isSuperset(of: [.read, .write])
    }

    /// For the invariant checker: the index, in `entry`'s object, under which its shadow chain
    /// holds the RAM page of `frame` (nil if the chain does not hold it).
    func vpagetableChainIndex(_ entry: VMMapEntry, _ frame: UInt64) -> Int64? {
        guard frame < UInt64(physmem.frameCount) else { return nil }
        let m = physmem.page(frame: frame)
        var object = entry.object
        var offset: Int64 = 0
        while let o = object {
            if m.object === o { return m.pindex - offset }
            offset += offToIdx(o.backingObjectOffset)
            object = o.backingObject
        }
        return nil
    }
}
