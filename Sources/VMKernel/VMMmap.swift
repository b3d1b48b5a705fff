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
    /// A mapping system call's range: page aligned, non-empty, inside user space.
    func checkRange(_ addr: UInt64, _ len: UInt64) throws(KernelError) {
        guard addr & pageMask == 0, len & pageMask == 0, len > 0 else {
            throw .badRange("range 0x\(String(addr, radix: 16))+0x\(String(len, radix: 16)) is not page aligned")
        }
        let (end, overflow) = addr.addingReportingOverflow(len)
        guard !overflow, end <= vmMaxUserAddress else {
            throw .badRange("range 0x\(String(addr, radix: 16))+0x\(String(len, radix: 16)) is outside user space")
        }
    }

    /// mmap(2) with MAP_FIXED: whatever was mapped there is removed first.
    public func mmap(pid: UInt32, _ req: MmapRequest) throws(KernelError) {
        let p = try process(pid)
        try checkRange(req.address, req.length)
        switchTo(p)
        if req.vpagetable && !vpagetableMmapAllowed(req) {
            counters.syscallErrors += 1 // EINVAL, nothing unmapped
            return
        }
        let map = p.map
        let start = req.address
        let end = req.address + req.length
        vmMapDelete(map, start, end)
        var flags: InsertFlags = []
        if req.nosync { flags.insert(.nosync) }
        if req.stack {
            // vm_map_stack (research §2.4); MAP_STACK needs an anonymous read/write mapping.
            if vmMapStack(p, start, req.length, req.protection, .all, flags) != .success {
                counters.syscallErrors += 1
            }
            return
        }
        var object: VMObject?
        var maxProt: VMProt = .all
        var shared = req.shared
        var maptype: MapType = .normal
        if req.uksmap {
            maptype = .uksmap
            shared = true
        } else if req.device {
            // Device mappings are forced MAP_SHARED; the object is a device pager.
            object = deviceObject(size: offToIdx(req.offset) + offToIdx(req.length))
            shared = true
            flags.insert(.prefaultPartial)
        } else if let fid = req.fileID {
            guard let vnode = files[fid] else { throw .unknownFile(fid) }
            object = vnode.object
            vmObjectReference(vnode.object)
            flags.insert(.prefaultPartial)
            if !shared { flags.insert(.copyOnWrite) }
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
            counters.syscallErrors += 1
            return
        }
        if shared { vmMapInherit(map, start, end, .share) }
    }

    /// A device-pager object (dev_pager_alloc): pages are fictitious and never counted as memory.
    func deviceObject(size: Int64) -> VMObject {
        let o = vmObjectAllocate(.device, size: size)
        o.isDevice = true
        return o
    }

    /// munmap(2)
    public func munmap(pid: UInt32, address: UInt64, length: UInt64) throws(KernelError) {
        let p = try process(pid)
        try checkRange(address, length)
        switchTo(p)
        vmMapDelete(p.map, address, address + length)
    }

    /// mprotect(2): fails (EACCES, counted) when the protection exceeds max_protection.
    public func mprotect(pid: UInt32, address: UInt64, length: UInt64, protection: VMProt) throws(KernelError) {
        let p = try process(pid)
        try checkRange(address, length)
        switchTo(p)
        if vmMapProtect(p.map, address, address + length, protection) != .success {
            counters.syscallErrors += 1
        }
    }

    /// madvise(2)
    public func madvise(pid: UInt32, address: UInt64, length: UInt64, advice: MadviseAdvice) throws(KernelError) {
        let p = try process(pid)
        try checkRange(address, length)
        switchTo(p)
        vmMapMadvise(p.map, address, address + length, advice)
    }
}
