// The mapping system calls (sys/vm/vm_mmap.c: sys_mmap/vm_mmap, sys_munmap, sys_mprotect,
// sys_madvise, sys_mlock, sys_munlock). Each runs on behalf of the process, which becomes the
// current one, as a system call would.

/// What an `mmap` asks for.
public struct MmapRequest: Sendable {
    public var address: UInt64
    public var length: UInt64
    public var protection: VMProt
    public var shared: Bool
    /// nil for anonymous memory.
    public var fileID: UInt32?
    public var offset: UInt64
    public var stack: Bool
    public var nosync: Bool
    public var device: Bool
    public var uksmap: Bool
    /// MAP_VPAGETABLE
    public var vpagetable: Bool

    public init(address: UInt64, length: UInt64, protection: VMProt, shared: Bool, fileID: UInt32?,
                offset: UInt64 = 0, stack: Bool = false, nosync: Bool = false, device: Bool = false,
                uksmap: Bool = false, vpagetable: Bool = false)
    {
        self.vpagetable = vpagetable
        self.address = address
        self.length = length
        self.protection = protection
        self.shared = shared
        self.fileID = fileID
        self.offset = offset
        self.stack = stack
        self.nosync = nosync
        self.device = device
        self.uksmap = uksmap
    }
}

extension Kernel {
    /// What every reader's validator rejects as malformed (TraceValidator): a range that is not
    /// page aligned, is empty or wraps past 2^64. The engine refuses it the same way for library
    /// callers; everything else is a system call that may fail as DragonFly's does.
    func checkRange(_ addr: UInt64, _ len: UInt64) throws(KernelError) {
        guard addr & pageMask == 0, len & pageMask == 0, len > 0, !addr.addingReportingOverflow(len).overflow else {
            throw .badRange("range 0x\(String(addr, radix: 16))+0x\(String(len, radix: 16)) is not page aligned, empty or past 2^64")
        }
    }

    /// The user-space test of kern_mmap, sys_munmap and sys_madvise (vm_mmap.c): the range must
    /// end at or below VM_MAX_USER_ADDRESS, else EINVAL.
    func inUserSpace(_ addr: UInt64, _ len: UInt64) -> Bool {
        addr + len <= vmMaxUserAddress
    }

    /// vm_map_check_protection(map, start, end, VM_PROT_NONE): every byte of [start, end) is
    /// mapped, by entries that follow each other without a hole.
    func rangeIsMapped(_ map: VMMap, _ start: UInt64, _ end: UInt64) -> Bool {
        guard var i = map.entryIndex(containing: start) else { return false }
        while map.entries[i].end < end {
            guard i + 1 < map.entries.count, map.entries[i + 1].start == map.entries[i].end else { return false }
            i += 1
        }
        return true
    }

    /// A system call that failed: nothing changed, the error is counted (SPEC §1).
    func syscallFailed() { counters.syscallErrors += 1 }

    /// mmap(2) with MAP_FIXED: whatever was mapped there is removed first. The checks of
    /// kern_mmap come first and fail with nothing changed: a range past user space (EINVAL),
    /// MAP_STACK that is not anonymous read/write (EINVAL), a private mapping of a character
    /// device, which "does not provide private mappings of any kind" (EINVAL), and MAP_STACK on
    /// a device (vm_mmap: EINVAL).
    public func mmap(pid: UInt32, _ req: MmapRequest) throws(KernelError) {
        let p = try process(pid)
        try checkRange(req.address, req.length)
        switchTo(p)
        let isDevice = req.device || req.uksmap
        if req.fileID == nil && !isDevice && req.offset != 0 {
            // MAP_ANON with a file position: EINVAL (kern_mmap).
            return syscallFailed()
        }
        guard inUserSpace(req.address, req.length),
              !req.stack || (req.fileID == nil && !isDevice && req.protection.isSuperset(of: [.read, .write])),
              !isDevice || req.shared
        else { return syscallFailed() }
        if req.vpagetable && !vpagetableMmapAllowed(req) { return syscallFailed() }
        if let fid = req.fileID, files[fid] == nil { throw .unknownFile(fid) }
        let map = p.map
        let start = req.address
        let end = req.address + req.length
        vmMapDelete(map, start, end)
        var flags: InsertFlags = []
        if req.nosync { flags.insert(.nosync) }
        if req.stack {
            // vm_map_stack (research §2.4).
            if vmMapStack(p, start, req.length, req.protection, .all, flags) != .success {
                syscallFailed()
            }
            return
        }
        var object: VMObject?
        var maxProt: VMProt = .all
        var maptype: MapType = .normal
        if req.uksmap {
            maptype = .uksmap
        } else if req.device {
            // The object is a device pager.
            object = deviceObject(size: offToIdx(req.offset) + offToIdx(req.length))
            flags.insert(.prefaultPartial)
        } else if let fid = req.fileID, let vnode = files[fid] {
            object = vnode.object
            vmObjectReference(vnode.object)
            flags.insert(.prefaultPartial)
            if !req.shared { flags.insert(.copyOnWrite) }
            maxProt = .all
        }
        if req.vpagetable {
            // vm_map_insert does not prefault VPAGETABLE entries (vm_map.c).
            maptype = .vpagetable
            flags.subtract([.prefault, .prefaultPartial])
        }
        let rv = vmMapInsert(map, object: object, offset: req.offset, start: start, end: end,
                             maptype: maptype, subsystem: .mmap, prot: req.protection, max: maxProt,
                             flags: flags)
        if rv != .success {
            vmObjectDeallocate(object)
            return syscallFailed()
        }
        if req.shared { vmMapInherit(map, start, end, .share) }
    }

    /// A device-pager object (dev_pager_alloc): pages are fictitious and never counted as memory.
    func deviceObject(size: Int64) -> VMObject {
        let o = vmObjectAllocate(.device, size: size)
        o.isDevice = true
        return o
    }

    /// sys_munmap: a range past user space is EINVAL, and so is one that is not mapped from end
    /// to end (vm_map_check_protection with VM_PROT_NONE before anything is removed).
    public func munmap(pid: UInt32, address: UInt64, length: UInt64) throws(KernelError) {
        let p = try process(pid)
        try checkRange(address, length)
        switchTo(p)
        let end = address + length
        guard inUserSpace(address, length), rangeIsMapped(p.map, address, end) else { return syscallFailed() }
        vmMapDelete(p.map, address, end)
    }

    /// sys_mprotect: no user-space test; vm_map_protect's VM_MAP_RANGE_CHECK clamps the range to
    /// the map, holes are skipped, and a protection beyond an entry's max_protection is EACCES
    /// with nothing changed.
    public func mprotect(pid: UInt32, address: UInt64, length: UInt64, protection: VMProt) throws(KernelError) {
        let p = try process(pid)
        try checkRange(address, length)
        switchTo(p)
        let end = Swift.min(address + length, vmMaxUserAddress)
        guard address < end else { return }
        if vmMapProtect(p.map, address, end, protection) != .success { syscallFailed() }
    }

    /// sys_madvise: a range past user space is EINVAL; holes are fine.
    public func madvise(pid: UInt32, address: UInt64, length: UInt64, advice: MadviseAdvice) throws(KernelError) {
        let p = try process(pid)
        try checkRange(address, length)
        switchTo(p)
        guard inUserSpace(address, length) else { return syscallFailed() }
        vmMapMadvise(p.map, address, address + length, advice)
    }
}
