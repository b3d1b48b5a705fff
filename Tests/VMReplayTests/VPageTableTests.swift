// The VPTE values behind scenarios 70-75 (vm_fault_vpagetable, seed:1386-1513): the words the
// walk wrote back into the virtual page tables, read back from the backing objects. Each value
// is derived by hand in the scenario file's header; counters are checked by ScenarioTests.
import VMKernel
import VMReplay
import VMTrace
import VMWorkloads
import XCTest

final class VPageTableTests: XCTestCase {
    private let guest: UInt64 = 0x1000_0000

    /// Replays scenario `name` with invariant checks on and returns the kernel.
    private func replay(_ name: String) throws -> Kernel {
        let path = Scenario.directory.appendingPathComponent(name).path
        let replayer = try Replayer(ReplayConfiguration(checkInvariants: true, invariantInterval: 1))
        let reader = try TraceReader(path: path)
        var batch: [TraceEvent] = []
        while try reader.nextBatch(into: &batch) { try replayer.apply(batch) }
        try replayer.checkInvariants()
        return replayer.kernel
    }

    /// Word at guest-physical byte `offset` of `pid`'s guest memory.
    private func word(_ k: Kernel, _ pid: UInt32, _ offset: UInt64) -> UInt64? {
        k.objectWord(pid: pid, mappedAt: guest, offset: offset)
    }

    func testTwoLevelWalkWritesBackAccessedAndModified() throws {
        let k = try replay("70-vpt-two-level-walk.vmtrace")
        XCTAssertEqual(word(k, 1, 0x0000), 0x1063, "T0[0]: 0x1003 + A by the read (seed:1468) + M|A by the write (seed:1467)")
        XCTAssertEqual(word(k, 1, 0x1000), 0x80e3, "T1[0]: 0x8083 + A + M")
        XCTAssertEqual(word(k, 1, 0x8010), 0xabc, "the last store lands in object page 8 (frame 8 + guest page 0)")
        XCTAssertEqual(k.mappedWord(pid: 1, address: guest + 0x10), 0xabc, "read back through the real PTE")
        XCTAssertEqual(word(k, 1, 0x8018), 0, "a word never stored reads 0")
        XCTAssertEqual(k.map(of: 1)?.entry(containing: guest)?.masterPDE, 0x3, "the master entry is not in memory: no A/M")
    }

    func testInvalidLeafFailsAfterSettingAccessedAbove() throws {
        let k = try replay("71-vpt-invalid-vpte.vmtrace")
        XCTAssertEqual(word(k, 1, 0x0000), 0x1027, "T0[0] 0x1007 + A")
        XCTAssertEqual(word(k, 1, 0x1000), 0x2027, "T1[0] + A")
        XCTAssertEqual(word(k, 1, 0x2000), 0x3027, "T2[0] + A, set also by the walk that failed below it")
        XCTAssertEqual(word(k, 1, 0x3000), 0x8027, "T3[0]: leaf of guest page 0 + A")
        XCTAssertEqual(word(k, 1, 0x3010), 0, "T3[2] was never stored: VPTE_V clear (seed:1463 leaves it alone)")
        XCTAssertEqual(word(k, 1, 0x3008), 0x9005, "T3[1] untouched: guest page 1 was not accessed")
    }

    func testWriteThroughReadOnlyVPTE() throws {
        let k = try replay("72-vpt-write-readonly-vpte.vmtrace")
        XCTAssertEqual(word(k, 1, 0x0000), 0x1067, "T0[0]: A by the read, M|A by the failing write")
        XCTAssertEqual(word(k, 1, 0x2000), 0x3067, "T2[0] likewise")
        XCTAssertEqual(word(k, 1, 0x3008), 0x9025, "T3[1]: A by the read; the write sets nothing without VPTE_RW (seed:1466)")
    }

    func testNoExecuteVPTE() throws {
        let k = try replay("76-vpt-nx.vmtrace")
        XCTAssertEqual(word(k, 1, 0x0000), 0x1023, "T0[0]: A from the failed fetch's walk")
        XCTAssertEqual(word(k, 1, 0x1000), 0x8000_0000_0000_80a3, "T1[0]: A written back before the NX check failed")
    }

    func testLinearMasterEntry() throws {
        let k = try replay("73-vpt-linear-master.vmtrace")
        XCTAssertEqual(word(k, 1, 0x4000), 0x1111, "guest page 0 is object page 4")
        XCTAssertEqual(word(k, 1, 0x6008), 0x2222, "guest page 2 word 1 is object page 6 word 1")
        XCTAssertEqual(word(k, 1, 0x0000), nil, "object page 0 was never touched")
    }

    func testForkCopiesTablesIntoTheChild() throws {
        let k = try replay("74-vpt-fork.vmtrace")
        XCTAssertEqual(word(k, 1, 0x0000), 0x1023, "parent T0[0]: A from its own read only")
        XCTAssertEqual(word(k, 1, 0x1000), 0x80a3, "parent T1[0]")
        XCTAssertEqual(word(k, 2, 0x0000), 0x1063, "child T0[0]: its COW copy, M|A by its write")
        XCTAssertEqual(word(k, 2, 0x1000), 0x80e3, "child T1[0]")
        XCTAssertEqual(word(k, 2, 0x8010), 0x5555, "the child's store is in the child's copy of page 8")
        XCTAssertEqual(word(k, 1, 0x8010), 0, "and not in the parent's")
        XCTAssertEqual(k.mappedWord(pid: 1, address: guest + 0x10), 0)
    }

    func testInvalAndClearedModifiedBit() throws {
        let k = try replay("75-vpt-inval.vmtrace")
        XCTAssertEqual(word(k, 1, 0x1000), 0x80e3, "T1[0]: M cleared by the store, set again by the last write's fault")
        XCTAssertEqual(word(k, 1, 0x0000), 0x1063, "T0[0]")
    }

    /// The data follows the page out to swap and back (PageContents.swift): a store, enough
    /// other memory written to push it out, then a read that swaps it in.
    func testStoredWordsSurviveSwap() throws {
        var events: [TraceEvent] = [
            .proc(pid: 1, threads: 1),
            .mmap(Mapping(pid: 1, address: 0x1000_0000, length: 4096, protection: [.read, .write])),
            .store(pid: 1, address: 0x1000_0008, value: 0x1234),
            .mmap(Mapping(pid: 1, address: 0x2000_0000, length: 8 << 20, protection: [.read, .write])),
        ]
        for i in 0..<2048 { events.append(.access(Access(kind: .write, pid: 1, address: 0x2000_0000 + UInt64(i) * 4096))) }
        events.append(.access(Access(kind: .read, pid: 1, address: 0x1000_0008)))
        let replayer = try Replayer(ReplayConfiguration(physicalMemory: 4 << 20, swap: 16 << 20))
        try replayer.apply(events)
        let report = replayer.finish()
        XCTAssertGreaterThan(report["vm.stats.vm.v_swapin"]?.asInt ?? 0, 0, "the test needs the page to have been swapped out and in")
        XCTAssertEqual(replayer.kernel.mappedWord(pid: 1, address: 0x1000_0008), 0x1234)
    }

    /// `vmreplay gen vkernel`: every table page and every guest page touched is zero-filled
    /// exactly once (the image is private anonymous memory, never paged out), nothing fails
    /// (writes only go to pages whose VPTE has VPTE_RW), and nothing is prefaulted (seed:2732).
    func testGeneratedVKernelWorkload() throws {
        let w = VKernelWorkload(guestPages: 700, touches: 5000, writeFraction: 0.5, scans: 3, seed: 2)
        let events = Array(w)
        let replayer = try Replayer(ReplayConfiguration(checkInvariants: true, invariantInterval: 500))
        try replayer.apply(events)
        try replayer.checkInvariants()
        let report = replayer.finish()
        var touched = Set<UInt64>()
        for case .access(let a) in events { touched.insert(a.address >> 12) }
        XCTAssertEqual(w.tablePages, 5, "T0, T1, T2 and two leaf tables for 700 pages")
        XCTAssertEqual(report["vm.stats.vm.v_zfod"]?.asInt, Int64(w.tablePages + touched.count))
        XCTAssertEqual(report["trap.sigsegv"]?.asInt, 0)
        XCTAssertEqual(report["vm.stats.vm.v_cow_faults"]?.asInt, 0)
        XCTAssertEqual(report["prefault.pages"]?.asInt, 0)
        XCTAssertEqual(report["replay.syscall_errors"]?.asInt, 0)
    }

    /// The data follows its page through a collapse (vm_page_rename into the shadow): the
    /// parent writes another page after fork (its entry gets a shadow over the shared object),
    /// the child exits, and the shared object collapses into the parent's shadow.
    func testStoredWordsFollowACollapse() throws {
        let events: [TraceEvent] = [
            .proc(pid: 1, threads: 1),
            .mmap(Mapping(pid: 1, address: 0x1000_0000, length: 8192, protection: [.read, .write])),
            .store(pid: 1, address: 0x1000_0010, value: 0xfeed),
            .fork(parent: 1, child: 2),
            .access(Access(kind: .write, pid: 1, address: 0x1000_1000)),
            .exit(pid: 2),
        ]
        let replayer = try Replayer(ReplayConfiguration(checkInvariants: true, invariantInterval: 1))
        try replayer.apply(events)
        let k = replayer.kernel
        XCTAssertEqual(k.objectCollapses, 1, "the test needs the collapse")
        XCTAssertEqual(k.objectWord(pid: 1, mappedAt: 0x1000_0000, offset: 0x10), 0xfeed)
        XCTAssertEqual(k.mappedWord(pid: 1, address: 0x1000_0010), 0xfeed)
        XCTAssertEqual(k.objectWord(pid: 1, mappedAt: 0x1000_0000, offset: 0x1010), 0, "page 1 was written, not stored to")
    }
}
