// A declared file (struct vnode) and its VM object (vnode_pager_alloc). Vnode objects live as
// long as the machine: when the last mapping goes the object's ref_count drops to 0 but its pages
// stay in the page cache, as a cached vnode's do.

public final class VNode {
    public let fileID: UInt32
    public let path: String
    /// File size in bytes (va_size).
    public let size: UInt64
    /// The OBJT_VNODE object; its size is the file's size in pages, rounded up.
    public let object: VMObject

    init(fileID: UInt32, path: String, size: UInt64, object: VMObject) {
        self.fileID = fileID
        self.path = path
        self.size = size
        self.object = object
    }
}

extension Kernel {
    /// Declares a file (the `file` event). `resident`: every page starts valid, clean and on
    /// PQ_INACTIVE, as after an earlier read(2) of the whole file.
    public func declareFile(id: UInt32, size: UInt64, resident: Bool, path: String) throws(KernelError) {
        guard files[id] == nil else { throw .duplicateFile(id) }
        let pages = Int64(size >> pageShift) + (size & pageMask != 0 ? 1 : 0) // round_page without wrapping
        // A file cannot be all resident in less memory than it has pages: say so before
        // allocating anything (a 1 TiB file would otherwise allocate all of RAM first).
        if resident && pages > Int64(physmem.freeCount) {
            throw .outOfMemory("file \(id) (\(pages) pages) cannot be all resident: \(physmem.freeCount) pages are free (--phys-mem)")
        }
        let object = vmObjectAllocate(.vnode, size: pages)
        object.refCount = 0
        let vnode = VNode(fileID: id, path: path, size: size, object: object)
        object.vnode = vnode
        files[id] = vnode
        if resident {
            for pindex in 0..<object.size {
                guard let m = vmPageAlloc(object, pindex, system: true) else {
                    throw .outOfMemory("file \(id) does not fit in physical memory")
                }
                m.valid = true
                physmem.deactivate(m, meter: &meter)
            }
        }
    }
}
