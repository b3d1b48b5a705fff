// The swap pager (sys/vm/swap_pager.c; research §5.3) and the default pager it stands behind.
// Swap metadata is per object and page (object.swapBlocks); a DEFAULT object becomes SWAP the
// first time one of its pages is given a swap block (swp_pager_meta_build).

extension Kernel {
    /// swap_pager_getpage: read a page back from swap (no burst: vm.swap_burst_read = 0).
    func swapPagerGetPage(_ object: VMObject, _ m: VMPage) -> PagerResult {
        guard let block = object.swapBlocks[m.pindex] else { return .fail }
        swapInPageContents(m, block: block)
        meter.v_swapin += 1
        meter.v_swappgsin += 1
        m.valid = true
        m.dirty = false
        m.setFlag(.swapped)
        m.setFlag(.referenced)
        return .ok
    }

    /// swap_pager_unswapped: a dirtied page no longer needs its swap copy.
    func swapPagerUnswapped(_ m: VMPage) {
        guard m.flags.contains(.swapped), let o = m.object else { return }
        m.clearFlag(.swapped)
        if let block = o.swapBlocks.removeValue(forKey: m.pindex) { swapSpace.free(block) }
    }

    /// swap_pager_freespace for a whole object (terminate).
    func swapFreeAll(_ o: VMObject) {
        for block in o.swapBlocks.values { swapSpace.free(block) }
        o.swapBlocks.removeAll()
    }

    /// swap_pager_copy(source, destination, offset, destroysource=TRUE) during collapse: swap
    /// blocks move into the parent unless the parent already has the page or swap for it.
    func swapPagerCopy(from source: VMObject, to destination: VMObject, offsetIndex: Int64) {
        guard !source.swapBlocks.isEmpty else { return }
        for (pindex, block) in source.swapBlocks {
            let newIndex = pindex - offsetIndex
            if newIndex < 0 || newIndex >= destination.size || destination.swapBlocks[newIndex] != nil
                || destination.lookup(newIndex) != nil
            {
                swapSpace.free(block)
            } else {
                destination.swapBlocks[newIndex] = block
                if destination.type == .default { destination.type = .swap }
            }
        }
        source.swapBlocks.removeAll()
    }

    /// dev_pager_getpage: the allocated page is replaced by a fictitious page for the device's
    /// memory (never on a queue, never counted as RAM), and the pager reports VM_PAGER_OK — so a
    /// device fault is a hard fault (seed:1896).
    func devicePagerGetPage(_ object: VMObject, _ m: VMPage) -> PagerResult {
        let pindex = m.pindex
        vmPageFree(m)
        vmPageInsert(devPagerGetFake(), object, pindex)
        return .ok
    }

    /// dev_pager_getfake: a valid fictitious, unmanaged page for device memory, numbered above
    /// every RAM frame.
    func devPagerGetFake() -> VMPage {
        nextDeviceFrame += 1
        let fake = physmem.makeFictitiousPage(frame: deviceFrameBase + nextDeviceFrame)
        fake.setFlag([.fictitious, .unmanaged])
        fake.valid = true
        return fake
    }
}

/// Swap space: a count of blocks (one page each) and a free list.
struct SwapSpace {
    private(set) var totalBlocks: Int64
    private(set) var usedBlocks: Int64 = 0
    private var freeList: [Int64] = []
    private var nextBlock: Int64 = 0
    /// Stored words written out with each block (PageContents.swift); freed with the block.
    var contents: [Int64: PageWords] = [:]

    init(pages: Int64) { totalBlocks = pages }

    mutating func allocate() -> Int64? {
        if let b = freeList.popLast() {
            usedBlocks += 1
            return b
        }
        guard nextBlock < totalBlocks else { return nil }
        nextBlock += 1
        usedBlocks += 1
        return nextBlock - 1
    }

    mutating func free(_ block: Int64) {
        contents[block] = nil
        freeList.append(block)
        usedBlocks -= 1
    }
}
