// pmap_object_init_pt (sys/platform/pc64/x86_64/pmap.c; research §6.4): the map-time prefault
// of mmap (MAP_PREFAULT_PARTIAL), exec (MAP_PREFAULT) and MADV_WILLNEED (MAP_PREFAULT_MADVISE).

extension Kernel {
    func pmapObjectInitPT(_ map: VMMap, _ addr: UInt64, _ prot: VMProt, _ object: VMObject,
                          _ pindex: Int64, _ size: UInt64, partial: Bool, madvise: Bool)
    {
        // Only readable mappings of vnode objects, into the current process's pmap.
        guard prot.contains(.read), object.type == .vnode, map.pmap === currentPmap else { return }
        let psize = Int64(size >> pageShift)
        if partial && psize > Int64(maxInitPT) && object.residentPageCount > maxInitPT { return }
        if madvise && physmem.freeCount < physmem.thresholds.v_free_reserved { return }
        // Entirely 2 MB aligned ranges are left to the (segment) fault path.
        if addr & (segmentSize - 1) == 0, size & (segmentSize - 1) == 0,
           idxToOff(pindex) & (segmentSize - 1) == 0
        {
            return
        }
        let end = pindex + psize
        // Scan the object's resident pages in the range, in index order.
        let candidates: [VMPage]
        if Int64(object.residentPageCount) < psize {
            candidates = object.memq.pages(from: pindex, to: end)
        } else {
            candidates = (pindex..<end).compactMap { object.lookup($0) }
        }
        for m in candidates where m.valid && !m.flags.contains(.fictitious) {
            if m.queue == .cache { physmem.deactivate(m, meter: &meter) }
            let va = addr + idxToOff(m.pindex - pindex)
            if !pmapPrefaultOK(map.pmap, va) { continue }
            pmapEnterQuick(map.pmap, va, m)
            counters.initPTPages += 1
        }
    }
}
