// Memory pressure: thresholds, swap-out and swap-in, the OOM kill, cold files re-read, PQ_CACHE
// reactivation, mlock, RLIMIT_RSS. Expected numbers are derived in the comments.
@testable import VMKernel
import XCTest

final class PressureTests: XCTestCase {
    func makeKernel(physMem: UInt64, swap: UInt64 = 0, _ configure: (inout Tunables) throws -> Void = { _ in })
        throws -> Kernel
    {
        var t = Tunables()
        try configure(&t)
        return try Kernel(tunables: t, physicalMemory: physMem, swap: swap)
    }

    func writePages(_ k: Kernel, pid: UInt32, base: UInt64, count: Int) throws {
        for i in 0..<count { try k.access(pid: pid, address: base + UInt64(i) * 4096, size: 1, type: .write) }
    }

    // MARK: thresholds (research §7.2)

    func testThresholdsMatchTheResearchWorkedExample() {
        // 2,000,000 pages, 8 cpus: min = max(64 + (2e6-1024)/200, 128*8*10) = max(10058, 10240).
        let t = PageThresholds(pages: 2_000_000, cpus: 8)
        XCTAssertEqual(t.v_free_min, 10240)
        XCTAssertEqual(t.v_free_reserved, 5127) // 10240*4/8 + 7
        XCTAssertEqual(t.v_free_severe, 5120) // 10240*4/8
        XCTAssertEqual(t.v_pageout_free_min, 2567) // 10240*2/8 + 7
        XCTAssertEqual(t.v_interrupt_free_min, 1287) // 10240/8 + 7
        XCTAssertEqual(t.v_free_target, 46087) // 4*10240 + 5127 (more than 6144 pages)
        XCTAssertEqual(t.v_cache_min, 46087) // = free_target (more than 2048 pages)
        XCTAssertEqual(t.v_cache_max, 92174)
    }

    func testThresholdsOfTheSmallestMachine() {
        // 4 MB = 1024 pages, 1 cpu: min(max(64, 1280), 1024/20 = 51) = 51.
        let t = PageThresholds(pages: 1024)
        XCTAssertEqual(t.v_free_min, 51)
        XCTAssertEqual(t.v_free_reserved, 32) // 51*4/8 + 7 = 25 + 7
        XCTAssertEqual(t.v_free_severe, 25)
        XCTAssertEqual(t.v_free_target, 134) // 2*51 + 32: not more than 6144 pages
        XCTAssertEqual(t.v_cache_min, 0) // not more than 2048 pages
        XCTAssertEqual(t.v_inactive_target, 256) // 1024 / 4
    }

    // MARK: swap

    /// A working set of 1.5x memory written twice, with swap: the first pass zero-fills every
    /// page, the second finds each one paged out (a cyclic pattern larger than memory defeats any
    /// LRU-like reclaim), so each second-pass fault is a swap-in.
    func testWorkingSetLargerThanMemoryPagesOutThenSwapsIn() throws {
        let k = try makeKernel(physMem: 4 << 20, swap: 16 << 20)
        try k.createProcess(pid: 1)
        try k.mmap(pid: 1, MmapRequest(address: 0x1000_0000, length: 6 << 20, protection: [.read, .write],
                                       shared: false, fileID: nil))
        try writePages(k, pid: 1, base: 0x1000_0000, count: 1536)
        try writePages(k, pid: 1, base: 0x1000_0000, count: 1536)
        k.finish()
        XCTAssertEqual(k.counters.pageFaults, 3072) // every touch of both passes traps
        XCTAssertEqual(k.meter.v_zfod, 1536) // first pass only
        XCTAssertEqual(k.meter.v_swapin, 1536) // second pass: every page comes back from swap
        XCTAssertEqual(k.meter.v_swappgsin, 1536) // vm.swap_burst_read = 0: one page per I/O
        XCTAssertEqual(k.totalRusage.ru_majflt, 1536) // each swap-in is a hard fault (seed:1896)
        XCTAssertEqual(k.totalRusage.ru_minflt, 2 * 1536 + 1536) // soft: 2 each; hard: 1 each (seed:743-755)
        XCTAssertEqual(k.meter.v_vm_faults, 3072) // no prefault: vm_prefault_quick finds no neighbour
        // Pages not resident at the end of pass 1 must have gone to swap: at least 1536 - 1024.
        XCTAssertGreaterThanOrEqual(k.meter.v_swapout, 512)
        XCTAssertEqual(k.meter.v_swapout, k.meter.v_swappgsout)
        XCTAssertGreaterThan(k.meter.v_pdwakeups, 0)
        XCTAssertEqual(k.pageoutStats.oomKills, 0)
    }

    /// The same without swap: dirty anonymous pages cannot be laundered, so the daemon kills the
    /// largest process (the only one) from its third pass on.
    func testWithoutSwapTheWorkingSetEndsInAnOOMKill() throws {
        let k = try makeKernel(physMem: 4 << 20, swap: 0)
        try k.createProcess(pid: 1)
        try k.mmap(pid: 1, MmapRequest(address: 0x1000_0000, length: 6 << 20, protection: [.read, .write],
                                       shared: false, fileID: nil))
        var killedAt: Int?
        for i in 0..<1536 {
            do {
                try k.access(pid: 1, address: 0x1000_0000 + UInt64(i) * 4096, size: 1, type: .write)
            } catch {
                XCTAssertEqual(error, KernelError.killed(1))
                killedAt = i
                break
            }
        }
        XCTAssertEqual(k.pageoutStats.oomKills, 1)
        XCTAssertNotNil(killedAt)
        XCTAssertTrue(k.killedPids.contains(1))
        XCTAssertEqual(k.meter.v_swapout, 0)
        XCTAssertEqual(k.totalRusage.ru_majflt, 0)
        // It died before touching its whole working set: memory holds at most 1024 pages.
        XCTAssertLessThan(killedAt ?? 9999, 1024)
        XCTAssertThrowsError(try k.fork(parent: 1, child: 2))
    }

    // MARK: files under pressure

    /// A cold 8 MB file scanned twice: in 4 MB of memory the second scan has to read the file
    /// again (its pages were reclaimed by the daemon as the scan went on), in 64 MB it reads
    /// nothing at all (everything is still cached).
    func testColdFileScannedTwiceFaultsInAgainUnderPressure() throws {
        func scan(passes: Int, memory: UInt64) throws -> Kernel {
            let k = try makeKernel(physMem: memory)
            try k.declareFile(id: 1, size: 8 << 20, resident: false, path: "/data")
            try k.createProcess(pid: 1)
            try k.mmap(pid: 1, MmapRequest(address: 0x2000_0000, length: 8 << 20, protection: .read,
                                           shared: true, fileID: 1))
            for _ in 0..<passes {
                for i in 0..<2048 { try k.access(pid: 1, address: 0x2000_0000 + UInt64(i) * 4096, size: 1, type: .read) }
            }
            return k
        }
        let once = try scan(passes: 1, memory: 4 << 20)
        let twice = try scan(passes: 2, memory: 4 << 20)
        XCTAssertGreaterThan(once.meter.v_vnodein, 0)
        // The second pass reads from the file again: at least half as often as the first.
        XCTAssertGreaterThanOrEqual(twice.meter.v_vnodein - once.meter.v_vnodein, once.meter.v_vnodein / 2)
        XCTAssertEqual(twice.totalRusage.ru_majflt, twice.meter.v_vnodein) // each pager call is one hard fault
        XCTAssertGreaterThan(twice.meter.v_dfree, 0) // the daemon freed file pages (cache scan)
        // Without pressure the second pass is free of I/O.
        let roomy1 = try scan(passes: 1, memory: 64 << 20)
        let roomy2 = try scan(passes: 2, memory: 64 << 20)
        XCTAssertEqual(roomy2.meter.v_vnodein, roomy1.meter.v_vnodein)
        // 2048 pages in 64 KB blocks, 32 blocks (2 MB) per read-ahead: 4 cold windows, and the
        // PG_RAM mark is lost under the shared lock (scenario 21), so each window costs one call.
        XCTAssertEqual(roomy1.meter.v_vnodein, 4)
    }

    /// A resident file whose clean pages the daemon moved to PQ_CACHE: a read fault on one of
    /// them takes it back (unqueued first, so the fault's own page does not count,
    /// seed:1647), and vm_prefault_quick deactivates every cached neighbour it maps, each a
    /// v_reactivated (seed:3161-3162 → vm_page_deactivate of a PQ_CACHE page).
    func testCachedPagesReactivatedByAFault() throws {
        let k = try makeKernel(physMem: 4 << 20)
        try k.declareFile(id: 1, size: 800 * 4096, resident: true, path: "/lib")
        try k.createProcess(pid: 1)
        try k.mmap(pid: 1, MmapRequest(address: 0x1000_0000, length: 1 << 20, protection: [.read, .write],
                                       shared: false, fileID: nil))
        // Anonymous writes until the daemon has cached some of the file's (inactive, clean) pages.
        var i = 0
        while k.physmem.cacheCount == 0 && i < 256 {
            try k.access(pid: 1, address: 0x1000_0000 + UInt64(i) * 4096, size: 1, type: .write)
            i += 1
        }
        XCTAssertGreaterThan(k.physmem.cacheCount, 8, "the daemon cached no file pages")
        let object = try XCTUnwrap(k.file(1)?.object)
        let cached = object.memq.allPages.filter { $0.queue == .cache }.map(\.pindex).sorted()
        // Fault on a cached page in the middle of the cached run.
        let target = cached[cached.count / 2]
        XCTAssertNotEqual(k.pageoutStats.runs, 0)
        try k.mmap(pid: 1, MmapRequest(address: 0x4000_0000, length: 800 * 4096, protection: .read,
                                       shared: true, fileID: 1))
        // (A map-time prefault would map cached pages first: the file has more than 96 pages
        // resident and mapped, so pmap_object_init_pt skips it, research §6.4.)
        XCTAssertEqual(k.counters.initPTPages, 0)
        let before = k.meter.v_reactivated
        let neighbours = (1...4).flatMap { [target + Int64($0), target - Int64($0)] }
        let cachedNeighbours = neighbours.filter { object.lookup($0)?.queue == .cache }.count
        try k.access(pid: 1, address: 0x4000_0000 + UInt64(target) * 4096, size: 1, type: .read)
        XCTAssertEqual(object.lookup(target)?.queue, .active) // the fault reactivated it
        XCTAssertEqual(k.meter.v_reactivated - before, UInt64(cachedNeighbours))
        XCTAssertEqual(cachedNeighbours, 8, "target chosen inside the cached run")
    }

    // MARK: mlock

    /// mlock: vm_fault_wire faults every page in (USER_WIRE, no burst, no trap); wired pages are
    /// never paged out, even when another process needs the memory.
    func testMlockedPagesAreFaultedInAndNeverPagedOut() throws {
        let k = try makeKernel(physMem: 4 << 20, swap: 16 << 20)
        try k.createProcess(pid: 1)
        try k.mmap(pid: 1, MmapRequest(address: 0x1000_0000, length: 100 * 4096, protection: [.read, .write],
                                       shared: false, fileID: nil))
        try k.mlock(pid: 1, address: 0x1000_0000, length: 100 * 4096)
        XCTAssertEqual(k.meter.v_vm_faults, 100) // one simulated fault per page (seed:2351-2352)
        XCTAssertEqual(k.meter.v_zfod, 100)
        XCTAssertEqual(k.counters.pageFaults, 0) // no MMU trap was involved
        XCTAssertEqual(k.counters.prefaultPages, 0) // no VM_FAULT_BURST in USER_WIRE faults
        XCTAssertEqual(k.procs[1]?.rusage.ru_minflt, 200) // soft faults count twice (seed:743,754)
        // Writes through the wired mapping: entry protection was used, so no trap.
        try writePages(k, pid: 1, base: 0x1000_0000, count: 100)
        XCTAssertEqual(k.counters.pageFaults, 0)
        // Pressure from another process.
        try k.createProcess(pid: 2)
        try k.mmap(pid: 2, MmapRequest(address: 0x2000_0000, length: 6 << 20, protection: [.read, .write],
                                       shared: false, fileID: nil))
        try writePages(k, pid: 2, base: 0x2000_0000, count: 1536)
        XCTAssertGreaterThan(k.meter.v_swapout, 0)
        let entry = try XCTUnwrap(k.map(of: 1)?.entry(containing: 0x1000_0000))
        let object = try XCTUnwrap(entry.object)
        XCTAssertEqual(object.residentPageCount, 100)
        XCTAssertTrue(object.memq.allPages.allSatisfy { $0.wireCount == 1 && object.swapBlocks[$0.pindex] == nil })
        XCTAssertTrue(object.swapBlocks.isEmpty)
        // munlock makes them pageable again.
        try k.munlock(pid: 1, address: 0x1000_0000, length: 100 * 4096)
        XCTAssertTrue(object.memq.allPages.allSatisfy { $0.wireCount == 0 })
    }

    // MARK: RLIMIT_RSS

    /// vmreplay.rlimit_rss = 1 MB (256 pages). Sequential writes: resident = N + 3 + ceil(N/512)
    /// (PML4 at creation, PDPT+PD with the first PT, one PT per 512 pages). The check
    /// `size > 4096 && size - 4096 >= 256` (seed:788) first holds at N = 4340, size 4352; the
    /// first wrap of vm_pageout_map_deactivate_pages only clears reference bits (every page was
    /// just touched), the second removes unreferenced mappings down to 256: 4352 - 256 = 4096
    /// pages, page-table pages being unmanaged and never removed.
    func testRSSLimitDeactivatesDownToTheLimit() throws {
        let k = try makeKernel(physMem: 64 << 20) { try $0.set("vmreplay.rlimit_rss", to: 1 << 20) }
        try k.createProcess(pid: 1)
        try k.mmap(pid: 1, MmapRequest(address: 0x1000_0000, length: 32 << 20, protection: [.read, .write],
                                       shared: false, fileID: nil))
        try writePages(k, pid: 1, base: 0x1000_0000, count: 4339)
        XCTAssertEqual(k.pageoutStats.rssDeactivations, 0) // size 4351: not yet
        try writePages(k, pid: 1, base: 0x1000_0000 + 4339 * 4096, count: 1)
        XCTAssertEqual(k.pageoutStats.rssDeactivations, 4096)
        XCTAssertEqual(k.procs[1]?.map.pmap.residentTLNWCount, 256)
        // Nothing was freed in the passive mode: the pages went to the inactive queue.
        XCTAssertEqual(k.meter.v_swapout, 0)
        XCTAssertGreaterThanOrEqual(k.physmem.inactiveCount, 4096)
        // With vm.pageout_memuse_mode=0 the limit is not enforced at all.
        let off = try makeKernel(physMem: 64 << 20) {
            try $0.set("vmreplay.rlimit_rss", to: 1 << 20)
            try $0.set("vm.pageout_memuse_mode", to: 0)
        }
        try off.createProcess(pid: 1)
        try off.mmap(pid: 1, MmapRequest(address: 0x1000_0000, length: 32 << 20, protection: [.read, .write],
                                         shared: false, fileID: nil))
        try writePages(off, pid: 1, base: 0x1000_0000, count: 4340)
        XCTAssertEqual(off.pageoutStats.rssDeactivations, 0)
    }
}

final class WiredForkTests: XCTestCase {
    /// fork of a wired (mlocked) entry: vm_map_copy_entry cannot make wired pages COW, so
    /// vm_fault_copy_entry copies every page into a fresh object of the child's entry and maps
    /// it there (with the entry's max_protection) — the child's first accesses do not trap, and
    /// its writes never copy-on-write.
    func testForkOfAWiredEntryCopiesThePagesEagerly() throws {
        let k = try Kernel(physicalMemory: 64 << 20)
        try k.createProcess(pid: 1)
        try k.mmap(pid: 1, MmapRequest(address: 0x1000_0000, length: 8 * 4096, protection: [.read, .write],
                                       shared: false, fileID: nil))
        try k.mlock(pid: 1, address: 0x1000_0000, length: 8 * 4096)
        XCTAssertEqual(k.meter.v_vm_faults, 8) // vm_fault_wire: one fault per page
        try k.fork(parent: 1, child: 2)
        let parentObject = try XCTUnwrap(k.map(of: 1)?.entry(containing: 0x1000_0000)?.object)
        let childEntry = try XCTUnwrap(k.map(of: 2)?.entry(containing: 0x1000_0000))
        let childObject = try XCTUnwrap(childEntry.object)
        XCTAssertFalse(childObject === parentObject) // its own object, not a COW reference
        XCTAssertEqual(childObject.residentPageCount, 8) // every page copied at fork
        XCTAssertFalse(childEntry.eflags.contains(.needsCopy))
        XCTAssertEqual(childEntry.wiredCount, 0) // wiring is not inherited
        for i in 0..<8 { try k.access(pid: 2, address: 0x1000_0000 + UInt64(i) * 4096, size: 1, type: .write) }
        XCTAssertEqual(k.counters.pageFaults, 0) // the copies were entered writable
        XCTAssertEqual(k.meter.v_cow_faults, 0)
        // The parent's wired pages were never write-protected (no pmap_protect for wired entries).
        for i in 0..<8 { try k.access(pid: 1, address: 0x1000_0000 + UInt64(i) * 4096, size: 1, type: .write) }
        XCTAssertEqual(k.counters.pageFaults, 0)
    }
}

extension PressureTests {
    /// The OOM kill can end the process whose access is running (its own fault wakes the
    /// daemon). The access holds the process strongly (Kernel.accessSlowPath: it was an
    /// unretained reference, a use-after-free ASan reports here and that crashed `check` with a
    /// tiny phys_mem about half the time), and stops at the kill: a dead process touches nothing.
    func testOOMKillOfTheRunningProcessInTheMiddleOfOneAccess() throws {
        let k = try makeKernel(physMem: 4 << 20, swap: 0)
        try k.createProcess(pid: 1)
        try k.mmap(pid: 1, MmapRequest(address: 0x1000_0000, length: 6 << 20, protection: [.read, .write],
                                       shared: false, fileID: nil))
        // One write of all 1536 pages: memory holds at most 1024, so the kill comes mid-access.
        try k.access(pid: 1, address: 0x1000_0000, size: 6 << 20, type: .write)
        XCTAssertEqual(k.pageoutStats.oomKills, 1)
        // Every page up to the kill zero-fills; the fault that woke the killer fails (vm_fault
        // sees P_LOWMEMKILL: SIGSEGV) and is the access's last page. Before, the 547 pages left
        // went on faulting for the dead process: 1536 faults, 548 SIGSEGVs.
        XCTAssertLessThan(k.meter.v_zfod, 1024)
        XCTAssertEqual(k.counters.pageFaults, k.meter.v_zfod + 1)
        XCTAssertEqual(k.counters.pagesTouched, k.counters.pageFaults)
        XCTAssertEqual(k.counters.sigsegv, 1)
        XCTAssertTrue(k.killedPids.contains(1))
        XCTAssertThrowsError(try k.access(pid: 1, address: 0x1000_0000, size: 1, type: .read)) {
            XCTAssertEqual($0 as? KernelError, KernelError.killed(1))
        }
    }
}
