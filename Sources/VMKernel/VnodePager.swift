// The vnode pager and the buffer-cache read-ahead behind it (sys/vm/vnode_pager.c,
// kern/vfs_cluster.c; research §5.2).
//
// vnode_pager_generic_getpages reads one page with VOP_READ; the filesystem reads whole blocks
// through the buffer cache, whose VMIO buffers are backed by the object's pages, and
// cluster_readx adds read-ahead. The model, with its tunables:
//   * block = vmreplay.fs_block_size (64K, HAMMER2), maxra = vfs.max_readahead / block
//     (32 blocks) when seqaccess != 0, and 1 block under MADV_RANDOM (seqaccess == 0);
//   * a call for a page that is not cached reads [block, block + maxra) (clipped to the file):
//     every page of those blocks becomes resident, valid and clean, and PG_RAM marks the first
//     page of block + (maxra + 1) / 2 (cluster_readx's B_RAM "about half-way");
//   * a call made because of a PG_RAM mark (the page is resident) continues the "gravy train":
//     maxra blocks from the first uncached block after the marked one, with PG_RAM on the first
//     page of the first newly read block;
//   * every call counts v_vnodein += 1 and v_vnodepgsin += 1 (bytecount is one page), whatever
//     the read-ahead brought in; read-ahead pages land on PQ_INACTIVE.

enum PagerResult {
    case ok // VM_PAGER_OK
    case fail // VM_PAGER_FAIL: the pager does not have the page
    case error // VM_PAGER_ERROR: I/O error, or a page at or past EOF
    case bad // VM_PAGER_BAD
}

extension Kernel {
    /// vm_pager_get_page(object, &m, seqaccess): dispatch by object type.
    func vmPagerGetPage(_ object: VMObject, _ m: VMPage, seqaccess: Int) -> PagerResult {
        switch object.type {
        case .vnode: return vnodePagerGetPage(object, m, seqaccess: seqaccess)
        case .swap: return swapPagerGetPage(object, m)
        case .device, .mgtdevice: return devicePagerGetPage(object, m)
        default: return .fail // default_pager_getpage: never has the page
        }
    }

    /// vnode_pager_getpage → vop_stdgetpages → vnode_pager_generic_getpages.
    func vnodePagerGetPage(_ object: VMObject, _ m: VMPage, seqaccess: Int) -> PagerResult {
        guard let vnode = object.vnode else { return .error }
        // The requested page at or past EOF is VM_PAGER_ERROR.
        if idxToOff(m.pindex) >= vnode.size { return .error }
        meter.v_vnodein += 1
        meter.v_vnodepgsin += 1
        let pagesPerBlock = max(Int64(tunables.fsBlockSize) / Int64(pageSize), 1)
        let maxra: Int64 = seqaccess != 0 ? max(tunables.maxReadahead / tunables.fsBlockSize, 1) : 1
        let blockCount = (object.size + pagesPerBlock - 1) / pagesPerBlock
        let block = m.pindex / pagesPerBlock
        let continuing = m.valid // the page is resident and valid: a PG_RAM continuation
        if !continuing {
            readBlocks(object, from: block, count: maxra, blockCount: blockCount,
                       pagesPerBlock: pagesPerBlock, except: m)
            m.valid = true
            m.dirty = false
            let mark = block + (maxra + 1) / 2
            if maxra > 1, mark < min(block + maxra, blockCount) {
                object.lookup(mark * pagesPerBlock)?.setFlag(.ram)
            }
        } else {
            var first = block + 1
            while first < blockCount, blockIsCached(object, first, pagesPerBlock) { first += 1 }
            if first < blockCount {
                readBlocks(object, from: first, count: maxra, blockCount: blockCount,
                           pagesPerBlock: pagesPerBlock, except: m)
                object.lookup(first * pagesPerBlock)?.setFlag(.ram)
            }
        }
        return .ok
    }

    private func blockIsCached(_ object: VMObject, _ block: Int64, _ pagesPerBlock: Int64) -> Bool {
        let start = block * pagesPerBlock
        let end = min(start + pagesPerBlock, object.size)
        for p in start..<end where object.lookup(p) == nil { return false }
        return true
    }

    /// Makes the pages of blocks [from, from+count) resident (the buffer cache's VMIO pages).
    private func readBlocks(_ object: VMObject, from: Int64, count: Int64, blockCount: Int64,
                            pagesPerBlock: Int64, except requested: VMPage)
    {
        let end = min(from + count, blockCount)
        guard from < end else { return }
        for p in (from * pagesPerBlock)..<min(end * pagesPerBlock, object.size) {
            if object.lookup(p) != nil { continue }
            guard let m = vmPageAlloc(object, p, system: false) else { return }
            m.valid = true
            physmem.deactivate(m, meter: &meter)
        }
        _ = requested
    }

    /// vnode_pager_freepage: a page the pager could not fill.
    func vnodePagerFreePage(_ m: VMPage) {
        vmPageFree(m)
    }
}
