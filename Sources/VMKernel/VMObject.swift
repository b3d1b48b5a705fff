// struct vm_object (sys/vm/vm_object.h) and the object operations of vm_object.c that the fault
// path depends on: allocate, reference, deallocate, shadow, collapse, terminate (research §3-4).

/// enum obj_type (vm_object.h)
public enum ObjectType: UInt8, Sendable, CustomStringConvertible {
    case `default` = 0, swap, vnode, device, mgtdevice, phys, dead

    public var description: String {
        switch self {
        case .default: return "DEFAULT"
        case .swap: return "SWAP"
        case .vnode: return "VNODE"
        case .device: return "DEVICE"
        case .mgtdevice: return "MGTDEVICE"
        case .phys: return "PHYS"
        case .dead: return "DEAD"
        }
    }

    /// DEFAULT and SWAP objects are the anonymous ones: shadowable, collapsible.
    var isAnonymous: Bool { self == .default || self == .swap }
}

/// object->flags (vm_object.h)
public struct ObjectFlags: OptionSet, Hashable, Sendable {
    public let rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }
    public static let active = ObjectFlags(rawValue: 1 << 0)
    public static let dead = ObjectFlags(rawValue: 1 << 1) // OBJ_DEAD
    public static let noSplit = ObjectFlags(rawValue: 1 << 2) // OBJ_NOSPLIT
    public static let writeable = ObjectFlags(rawValue: 1 << 3) // OBJ_WRITEABLE
    public static let mightBeDirty = ObjectFlags(rawValue: 1 << 4) // OBJ_MIGHTBEDIRTY
    public static let oneMapping = ObjectFlags(rawValue: 1 << 5) // OBJ_ONEMAPPING
    public static let onShadow = ObjectFlags(rawValue: 1 << 6) // OBJ_ONSHADOW
}

public final class VMObject {
    /// A serial number, for debugging output and invariant messages.
    public let id: Int
    @exclusivity(unchecked) public internal(set) var type: ObjectType
    /// Size in pages. vm_fault refuses to allocate at pindex >= size (seed:1731).
    @exclusivity(unchecked) public internal(set) var size: Int64
    @exclusivity(unchecked) public internal(set) var refCount: Int32 = 1
    @exclusivity(unchecked) public internal(set) var flags: ObjectFlags = []
    @exclusivity(unchecked) public internal(set) var backingObject: VMObject?
    /// Offset in bytes into the backing object.
    @exclusivity(unchecked) public internal(set) var backingObjectOffset: UInt64 = 0
    /// The objects shadowing this one (shadow_head). Kept for DEFAULT/SWAP objects only.
    @exclusivity(unchecked) var shadows: [VMObject] = []
    /// The vnode (file) for VNODE objects: the object's handle.
    @exclusivity(unchecked) public internal(set) weak var vnode: VNode?
    /// Device pager state for DEVICE objects.
    @exclusivity(unchecked) var isDevice = false
    /// Resident pages by index (rb_memq).
    @exclusivity(unchecked) var memq = ObjectPageTree()
    /// Swap blocks of paged-out pages (swap pager metadata, swblock_root).
    @exclusivity(unchecked) var swapBlocks: [Int64: Int64] = [:]

    init(id: Int, type: ObjectType, size: Int64) {
        self.id = id
        self.type = type
        self.size = size
        // _vm_object_allocate: OBJ_ONEMAPPING for anonymous objects (research §4).
        if type.isAnonymous { flags.insert(.oneMapping) }
    }

    /// shadow_count
    public var shadowCount: Int { shadows.count }
    /// resident_page_count
    public var residentPageCount: Int { memq.count }
    /// object->handle != NULL (vnode or device objects).
    var hasHandle: Bool { vnode != nil || isDevice }

    /// vm_page_lookup
    @inline(__always) func lookup(_ pindex: Int64) -> VMPage? { memq.lookup(pindex) }
}

extension Kernel {
    /// vm_object_allocate
    func vmObjectAllocate(_ type: ObjectType, size: Int64) -> VMObject {
        nextObjectID += 1
        let o = VMObject(id: nextObjectID, type: type, size: size)
        liveObjects += 1
        return o
    }

    /// vm_object_reference
    func vmObjectReference(_ o: VMObject) {
        o.refCount += 1
    }

    /// vm_object_set_writeable_dirty
    func vmObjectSetWriteableDirty(_ o: VMObject) {
        o.flags.formUnion([.writeable, .mightBeDirty])
    }

    // MARK: pages in objects

    /// vm_page_insert
    func vmPageInsert(_ m: VMPage, _ o: VMObject, _ pindex: Int64) {
        m.object = o
        m.pindex = pindex
        o.memq.insert(m, at: pindex)
    }

    /// vm_page_remove: detach a page from its object (its mappings must be gone).
    func vmPageRemove(_ m: VMPage) {
        guard let o = m.object else { return }
        o.memq.remove(at: m.pindex)
        m.object = nil
    }

    /// vm_page_rename: move a page to another (object, pindex); it stays dirty so it will be
    /// written to swap when needed.
    func vmPageRename(_ m: VMPage, _ newObject: VMObject, _ newPindex: Int64) {
        vmPageRemove(m)
        vmPageInsert(m, newObject, newPindex)
        m.markDirty()
    }

    /// vm_page_alloc(object, pindex, VM_ALLOC_NORMAL): a frame with an identity, busy for the
    /// caller (not on a queue), not yet valid. nil when memory is short.
    func vmPageAlloc(_ o: VMObject?, _ pindex: Int64, system: Bool = false) -> VMPage? {
        // pagedaemon_wakeup from every allocation that finds paging needed.
        if physmem.pagingNeeded() { pagedaemonWakeup() }
        var m = physmem.allocateFrame(system: system)
        if m == nil, let cached = physmem.cacheHead {
            // Below v_free_reserved: reuse the oldest PQ_CACHE page (vm_page_select_cache).
            vmPageFree(cached)
            m = physmem.allocateFrame(system: true)
        }
        guard let m else {
            pageoutDeficit += 1
            pageoutStats.allocationFailures += 1
            pagedaemonWakeup()
            return nil
        }
        if let o { vmPageInsert(m, o, pindex) }
        return m
    }

    /// vm_page_free: remove every mapping, detach from the object, free the frame.
    func vmPageFree(_ m: VMPage) {
        if m.flags.contains(.fictitious) {
            // Device memory is not RAM: the fictitious page just leaves its object.
            vmPageRemove(m)
            return
        }
        vmPageProtectNone(m)
        releasePageContents(m)
        vmPageRemove(m)
        physmem.freeFrame(m)
        meter.v_tfree += 1
    }

    // MARK: shadowing (research §3.3)

    /// vm_object_shadow(&object, &offset, length, addref). Returns the (possibly unchanged)
    /// object and offset for the map entry.
    func vmObjectShadow(_ source: VMObject?, offset: UInt64, length: Int64, addref: Bool)
        -> (object: VMObject, offset: UInt64)
    {
        if let source, source.type != .vnode, source.refCount == 1, !source.hasHandle,
           source.type.isAnonymous
        {
            // The no-shadow shortcut: nobody else can see the object, so the entry keeps it.
            if addref {
                source.refCount += 1
                source.flags.remove(.oneMapping)
            }
            return (source, offset)
        }
        // Once the source is shadowed it is no longer mapped by one entry alone
        // (vm_object.c vm_object_shadow clears OBJ_ONEMAPPING here, whatever addref is).
        source?.flags.remove(.oneMapping)
        let result = vmObjectAllocate(.default, size: length)
        // The entry's reference on the source moves to the backing pointer (ref unchanged).
        result.backingObject = source
        result.backingObjectOffset = offset
        if let source, source.type.isAnonymous {
            // VNODE sources are never put on a shadow list (501747bf19), so their shadow_count
            // stays 0 (research §3.3).
            source.shadows.append(result)
            result.flags.insert(.onShadow)
        }
        if addref {
            result.refCount += 1
            result.flags.remove(.oneMapping)
        }
        return (result, 0)
    }

    // MARK: deallocate and terminate (research §3.4)

    /// vm_object_deallocate: drop one reference, collapsing or terminating as the counts say.
    func vmObjectDeallocate(_ object: VMObject?) {
        var next = object
        while let o = next {
            next = nil
            if o.type == .vnode || o.type == .device {
                // Only the 1->0 transition is special (vrele); the vnode keeps its pages cached.
                o.refCount -= 1
                return
            }
            if o.refCount > 2 {
                o.refCount -= 1
                return
            }
            if o.refCount == 2 && o.shadows.isEmpty {
                if o.type.isAnonymous { o.flags.insert(.oneMapping) }
                o.refCount -= 1
                return
            }
            if o.refCount == 2, o.shadows.count == 1, !o.hasHandle, o.type.isAnonymous {
                // The other reference is the single shadow: once we are gone it can absorb us.
                // (A chain-locked shadow would skip the collapse; nothing is concurrent here.)
                let temp = o.shadows[0]
                o.refCount -= 1
                if temp.hasHandle || !temp.type.isAnonymous { return }
                // vm_object_deallocate_locked takes a temporary reference on the shadow around
                // the collapse, then drops it "formally" by deallocating the shadow in turn
                // (`object = temp; continue`): with the shadow at ref 2 afterwards that sets
                // OBJ_ONEMAPPING (no shadows) or collapses the shadow into its own single shadow.
                temp.refCount += 1
                vmObjectCollapse(temp)
                next = temp
                continue
            }
            o.refCount -= 1
            if o.refCount > 0 { return }
            // 1 -> 0: leave the backing object's shadow list, terminate, then release the
            // backing object in turn.
            let backing = o.backingObject
            if let backing { detachShadow(o, from: backing) }
            o.backingObject = nil
            vmObjectTerminate(o)
            next = backing
        }
    }

    func detachShadow(_ o: VMObject, from backing: VMObject) {
        if let i = backing.shadows.firstIndex(where: { $0 === o }) {
            backing.shadows.remove(at: i)
        }
        o.flags.remove(.onShadow)
    }

    /// vm_object_terminate: free every page (v_pfree per page), release swap, mark dead.
    func vmObjectTerminate(_ o: VMObject) {
        o.flags.insert(.dead)
        for m in o.memq.allPages {
            meter.v_pfree += 1
            vmPageFree(m)
        }
        swapFreeAll(o)
        o.type = .dead
        liveObjects -= 1
    }

    // MARK: collapse (research §3.5)

    /// vm_object_collapse: pull an unshared backing object into `object`, or bypass a backing
    /// object whose visible pages are all shadowed. Loops while it makes progress.
    func vmObjectCollapse(_ object: VMObject) {
        while true {
            guard object.type.isAnonymous, !object.hasHandle, !object.flags.contains(.dead),
                  let backing = object.backingObject,
                  backing.type.isAnonymous, !backing.hasHandle, !backing.flags.contains(.dead)
            else { return }
            let offsetIndex = offToIdx(object.backingObjectOffset)
            if backing.refCount == 1 {
                // Full collapse: every backing page is freed if the parent cannot see it or
                // already has it, otherwise renamed into the parent.
                for m in backing.memq.allPages {
                    let newIndex = m.pindex - offsetIndex
                    if newIndex < 0 || newIndex >= object.size || object.lookup(newIndex) != nil
                        || object.swapBlocks[newIndex] != nil
                    {
                        vmPageFree(m)
                    } else {
                        if m.queue == .cache { physmem.deactivate(m, meter: &meter) }
                        vmPageRename(m, object, newIndex)
                    }
                }
                swapPagerCopy(from: backing, to: object, offsetIndex: offsetIndex)
                // The parent inherits the backing object's backing object.
                detachShadow(object, from: backing)
                let grand = backing.backingObject
                if let grand {
                    detachShadow(backing, from: grand)
                    if grand.type.isAnonymous {
                        grand.shadows.append(object)
                        object.flags.insert(.onShadow)
                    }
                }
                object.backingObject = grand
                object.backingObjectOffset += backing.backingObjectOffset
                backing.backingObject = nil
                backing.refCount = 0
                vmObjectTerminate(backing)
                objectCollapses += 1
                continue
            }
            // Bypass (OBSC_TEST_ALL_SHADOWED): only from a DEFAULT backing object, and only when
            // every backing page the parent could see is shadowed by a parent page or swap.
            guard backing.type == .default else { return }
            for m in backing.memq.allPages {
                let newIndex = m.pindex - offsetIndex
                if newIndex < 0 || newIndex >= object.size { continue }
                if let pp = object.lookup(newIndex), pp.valid { continue }
                if object.swapBlocks[newIndex] != nil { continue }
                return
            }
            let grand = backing.backingObject
            detachShadow(object, from: backing)
            if let grand {
                vmObjectReference(grand)
                if grand.type.isAnonymous {
                    grand.shadows.append(object)
                    object.flags.insert(.onShadow)
                }
            }
            object.backingObject = grand
            object.backingObjectOffset += backing.backingObjectOffset
            objectBypasses += 1
            vmObjectDeallocate(backing)
        }
    }
}
