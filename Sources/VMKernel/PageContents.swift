// The data the trace's `store` events write (SPEC §1), kept so that a virtual page table can be
// read back from memory (vm_fault_vpagetable, seed:1424-1476). Only words that were stored are
// kept; any other word of any page reads as 0, as a zero-filled page does.
//
// The data belongs to the vm_page, as real memory does, and follows it:
//   - anonymous pages: keyed by frame, so vm_page_rename (virtual copy, collapse, vm_map_split)
//     carries it; vm_page_copy (a COW copy, vm_fault_copy_entry) copies it; vm_page_free
//     drops it (the next user of the frame is zero-filled or reads its data from a pager);
//   - swap: swap_pager_putpages writes the page's words under its swap block, getpage reads
//     them back, and freeing the block (swap_pager_freespace, collapse's swap_pager_copy keeps
//     block numbers) drops them — see SwapSpace.contents;
//   - vnode pages: keyed by (file, pindex): the file keeps what was written through a shared
//     mapping whether or not its page stays resident (a private mapping's writes land in
//     the anonymous COW copy instead).

/// The stored 64-bit words of one page, by word index (0-511). Sparse.
public struct PageWords: Equatable, Sendable {
    var words: [UInt16: UInt64] = [:]

    static let perPage = Int(pageSize / 8)

    subscript(_ index: Int) -> UInt64 {
        get { words[UInt16(truncatingIfNeeded: index)] ?? 0 }
        set { words[UInt16(truncatingIfNeeded: index)] = newValue == 0 ? nil : newValue }
    }

    var isEmpty: Bool { words.isEmpty }
}

/// Every page's stored words, by owner (see the top of this file).
struct PageContents {
    struct FileKey: Hashable {
        var fileID: UInt32
        var pindex: Int64
    }

    var byFrame: [UInt64: PageWords] = [:]
    var byFile: [FileKey: PageWords] = [:]

    /// Pages (anonymous and file) that hold stored words.
    var pageCount: Int { byFrame.count + byFile.count }
}

extension Kernel {
    private func fileKey(_ m: VMPage) -> PageContents.FileKey? {
        guard let vnode = m.object?.vnode else { return nil }
        return PageContents.FileKey(fileID: vnode.fileID, pindex: m.pindex)
    }

    /// The stored words of page `m` (empty if none were stored).
    func pageWords(_ m: VMPage) -> PageWords {
        if let key = fileKey(m) { return pageContents.byFile[key] ?? PageWords() }
        return pageContents.byFrame[m.frame] ?? PageWords()
    }

    func setPageWords(_ m: VMPage, _ words: PageWords) {
        let value: PageWords? = words.isEmpty ? nil : words
        if let key = fileKey(m) {
            pageContents.byFile[key] = value
        } else {
            pageContents.byFrame[m.frame] = value
        }
    }

    /// Word `index` (0-511) of page `m`.
    func pageWord(_ m: VMPage, _ index: Int) -> UInt64 { pageWords(m)[index] }

    func setPageWord(_ m: VMPage, _ index: Int, _ value: UInt64) {
        var words = pageWords(m)
        words[index] = value
        setPageWords(m, words)
    }

    /// vm_page_copy's data half: the COW copy gets the source page's words.
    func copyPageContents(from source: VMPage, to destination: VMPage) {
        setPageWords(destination, pageWords(source))
    }

    /// vm_page_free: an anonymous frame's words go with it (a file page's stay with the file).
    func releasePageContents(_ m: VMPage) {
        // Almost no trace stores words: an empty table saves a hash lookup per freed page.
        if !pageContents.byFrame.isEmpty, fileKey(m) == nil { pageContents.byFrame[m.frame] = nil }
    }

    /// swap_pager_putpages: the block gets the page's words.
    func swapOutPageContents(_ m: VMPage, block: Int64) {
        let words = pageContents.byFrame[m.frame]
        swapSpace.contents[block] = words
    }

    /// swap_pager_getpage: the page gets the block's words back.
    func swapInPageContents(_ m: VMPage, block: Int64) {
        pageContents.byFrame[m.frame] = swapSpace.contents[block]
    }

    // MARK: the store event and reading words back

    /// `store PID ADDR VALUE` (SPEC §1): a user-mode 8-byte write at ADDR (8-aligned, so one
    /// page), then VALUE lands in the page the real PTE maps — if the write went through, i.e.
    /// the PTE is now present and writable. A write that ended in SIGSEGV stores nothing.
    public func store(pid: UInt32, address: UInt64, value: UInt64) throws(KernelError) {
        try access(pid: pid, address: address, size: 8, type: .write)
        guard let p = procs[pid], let pte = p.map.pmap.table.pte(at: truncPage(address)),
              pte.isPresent, pte.isWritable, !pte.isDevice, pte.frame < UInt64(physmem.frameCount)
        else { return }
        setPageWord(physmem.page(frame: pte.frame), Int((address & pageMask) >> 3), value)
    }

    /// The word at byte `offset` of the object mapped by `pid`'s entry containing `mappedAt`,
    /// as a fault would find it (the first object down the shadow chain holding the page, or
    /// its file's data), without faulting anything in. nil when no entry covers `mappedAt`, the
    /// entry has no object yet, or no object of the chain has the page. For tests and tools:
    /// a vkernel's VPTEs live at byte offsets of its backing object (guest-physical addresses).
    public func objectWord(pid: UInt32, mappedAt: UInt64, offset: UInt64) -> UInt64? {
        guard let entry = procs[pid]?.map.entry(containing: mappedAt) else { return nil }
        var object = entry.object
        var pindex = offToIdx(offset)
        let index = Int((offset & pageMask) >> 3)
        while let o = object {
            if let m = o.lookup(pindex) { return pageWord(m, index) }
            if let block = o.swapBlocks[pindex] {
                return (swapSpace.contents[block] ?? PageWords())[index]
            }
            if let vnode = o.vnode {
                let key = PageContents.FileKey(fileID: vnode.fileID, pindex: pindex)
                return (pageContents.byFile[key] ?? PageWords())[index]
            }
            pindex += offToIdx(o.backingObjectOffset)
            object = o.backingObject
        }
        return nil
    }

    /// The word at `address` of `pid` as the process sees it through its real page tables now
    /// (nil when the page is not mapped). Tests read a guest's data back with it.
    public func mappedWord(pid: UInt32, address: UInt64) -> UInt64? {
        guard let pte = procs[pid]?.map.pmap.table.pte(at: truncPage(address)), pte.isPresent,
              !pte.isDevice, pte.frame < UInt64(physmem.frameCount)
        else { return nil }
        return pageWord(physmem.page(frame: pte.frame), Int((address & pageMask) >> 3))
    }

    /// Pages holding stored words (anonymous frames, file pages) and swap blocks holding them.
    public var pagesWithStoredWords: (pages: Int, swapBlocks: Int) {
        (pageContents.pageCount, swapSpace.contents.count)
    }
}
