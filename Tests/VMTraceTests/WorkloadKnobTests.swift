// Each workload's knobs do what `vmreplay gen WORKLOAD --help` says: counts of touches, forks,
// execs and exits, sizes of mappings, write fractions, advice, residency, heap growth, stack
// depth.

import XCTest
@testable import VMTrace
@testable import VMWorkloads

final class WorkloadKnobTests: XCTestCase {
    /// The mappings (in order) and the accesses falling in [start, end) of `pid`.
    private func mappings(_ events: [TraceEvent]) -> [Mapping] {
        events.compactMap { if case .mmap(let m) = $0 { return m } else { return nil } }
    }

    private func accesses(_ events: [TraceEvent], in m: Mapping) -> [Access] {
        events.compactMap {
            if case .access(let a) = $0, a.pid == m.pid, a.address >= m.address, a.address < m.address + m.length {
                return a
            }
            return nil
        }
    }

    private func stats(_ events: [TraceEvent]) -> TraceStatistics {
        var s = TraceStatistics()
        events.forEach { s.add($0) }
        return s
    }

    /// The region a single-region workload maps last (after its program's image and stack).
    private func region(_ events: [TraceEvent]) -> Mapping { mappings(events).last! }

    func testSeqAnonSizeStridePassesAndWriteFraction() {
        let events = checkInsideMappings(SequentialAnonWorkload(size: 1 << 20, stride: 64, writeFraction: 1, passes: 2))
        let r = region(events)
        XCTAssertEqual(r.length, 1 << 20)
        XCTAssertNil(r.fileID)
        XCTAssertEqual(r.protection, [.read, .write])
        let touches = accesses(events, in: r)
        XCTAssertEqual(touches.count, 2 * (1 << 20) / 64)
        XCTAssertEqual(SequentialAnonWorkload(size: 1 << 20, stride: 64, passes: 2).touches, touches.count)
        XCTAssertTrue(touches.allSatisfy { $0.kind == .write && $0.size == 8 })
        // Front to back, then again.
        XCTAssertEqual(touches[0].address, r.address)
        XCTAssertEqual(touches[1].address, r.address + 64)
        XCTAssertEqual(touches[16384].address, r.address)

        let readOnly = checkInsideMappings(SequentialAnonWorkload(size: 64 << 10, stride: 4, writeFraction: 0))
        let reads = accesses(readOnly, in: region(readOnly))
        XCTAssertEqual(reads.count, (64 << 10) / 4)
        XCTAssertTrue(reads.allSatisfy { $0.kind == .read && $0.size == 4 })

        let sparse = checkInsideMappings(SequentialAnonWorkload(size: 1 << 20, stride: 8192, writeFraction: 0.5, seed: 4))
        let half = accesses(sparse, in: region(sparse))
        XCTAssertEqual(half.count, 128)
        XCTAssertEqual(Set(half.map { $0.address / 8192 }).count, 128)
        XCTAssertEqual(Double(half.filter { $0.kind == .write }.count) / 128, 0.5, accuracy: 0.15)
        // Odd size rounds up to a page; zero passes only maps.
        let unused = Array(SequentialAnonWorkload(size: 5000, passes: 0))
        XCTAssertEqual(region(unused).length, 8192)
        XCTAssertEqual(accesses(unused, in: region(unused)).count, 0)
    }

    func testRandomAnonWorkingSetTouchesAndWrites() {
        let events = checkInsideMappings(RandomAnonWorkload(workingSet: 256 << 10, touches: 10_000, writeFraction: 0.3))
        let r = region(events)
        XCTAssertEqual(r.length, 256 << 10)
        let touches = accesses(events, in: r)
        XCTAssertEqual(touches.count, 10_000)
        XCTAssertEqual(Set(touches.map { $0.address / tracePageSize }).count, 64)
        XCTAssertEqual(Double(touches.filter { $0.kind == .write }.count) / 10_000, 0.3, accuracy: 0.03)
        XCTAssertTrue(touches.contains { $0.size == 1 } && touches.contains { $0.size == 8 })
        // Sizes that are powers of two are aligned.
        XCTAssertTrue(touches.allSatisfy { $0.size & ($0.size - 1) != 0 || $0.address % UInt64($0.size) == 0 })
    }

    func testFileScanFileMappingAdviceAndPasses() {
        let cold = checkInsideMappings(FileScanWorkload(size: 1 << 20, stride: 64, passes: 3))
        let r = region(cold)
        XCTAssertEqual(r.fileID, FileScanWorkload.fileID)
        XCTAssertEqual(r.protection, [.read])
        XCTAssertFalse(r.flags.contains(.shared))
        XCTAssertTrue(cold.contains(.file(id: FileScanWorkload.fileID, size: 1 << 20, resident: false,
                                          path: "/var/db/scan.dat")))
        XCTAssertFalse(cold.contains { if case .madvise = $0 { return true } else { return false } })
        let touches = accesses(cold, in: r)
        XCTAssertEqual(touches.count, 3 * (1 << 20) / 64)
        XCTAssertTrue(touches.allSatisfy { $0.kind == .read })

        for advice in [Advice.random, .sequential] {
            let warm = checkInsideMappings(FileScanWorkload(size: 1 << 20, advice: advice, resident: true, shared: true))
            let m = region(warm)
            XCTAssertTrue(m.flags.contains(.shared))
            XCTAssertTrue(warm.contains(.madvise(pid: 1, address: m.address, length: m.length, advice: advice)))
            XCTAssertTrue(warm.contains { if case .file(FileScanWorkload.fileID, _, true, _) = $0 { return true }
                                          return false })
        }
    }

    func testHeapGrowsByAbuttingChunksUpToTheMaximumAndTrimsTails() {
        let chunk: UInt64 = 64 << 10, maxHeap: UInt64 = 1 << 20
        let events = checkInsideMappings(HeapWorkload(allocations: 20_000, maxHeap: maxHeap, chunk: chunk, seed: 3))
        var brk = WorkloadLayout.heapBase
        var grows = 0, trims = 0
        for event in events {
            switch event {
            case .mmap(let m) where m.address >= WorkloadLayout.heapBase && m.address < 0x2000_0000:
                XCTAssertEqual(m.address, brk, "each chunk abuts the previous one")
                XCTAssertGreaterThanOrEqual(m.length, chunk)
                XCTAssertNil(m.fileID)
                brk += m.length
                XCTAssertLessThanOrEqual(brk - WorkloadLayout.heapBase, maxHeap)
                grows += 1
            case .munmap(_, let address, let length):
                XCTAssertEqual(address + length, brk, "a trim returns the tail")
                XCTAssertGreaterThan(address, WorkloadLayout.heapBase)
                brk = address
                trims += 1
            default: break
            }
        }
        XCTAssertGreaterThan(trims, 3)
        XCTAssertGreaterThan(grows, 4 * trims)
        // Accesses scale with the allocations.
        let small = stats(Array(HeapWorkload(allocations: 2000, maxHeap: maxHeap, chunk: chunk, seed: 3))).accesses
        let large = stats(events).accesses
        XCTAssertEqual(Double(large) / Double(small), 10, accuracy: 1.5)
        XCTAssertGreaterThan(small, 2000 * 8)
        // Clamped knobs: at least 1 MiB and four chunks.
        XCTAssertEqual(HeapWorkload(maxHeap: 4096, chunk: 512 << 10).maxHeap, 2 << 20)
    }

    func testShellLoopForksExecsAndMapsTheProgram() {
        let events = checkInsideMappings(ShellLoopWorkload(iterations: 25, programSize: 64 << 10))
        let s = stats(events)
        XCTAssertEqual(s.count("proc"), 1)
        XCTAssertEqual(s.count("fork"), 25)
        XCTAssertEqual(s.count("exec"), 25)
        XCTAssertEqual(s.count("exit"), 26)
        XCTAssertEqual(s.pids, Array(1...26))
        XCTAssertTrue(events.contains(.file(id: 3, size: 64 << 10, resident: false, path: "/usr/local/bin/prog")))
        // After each exec: text r-x (48K) and data rw- (16K) private from the program, bss, stack.
        let child = mappings(events).filter { $0.pid == 2 }
        XCTAssertEqual(child[0], Mapping(pid: 2, address: 0x40_0000, length: 48 << 10, protection: [.read, .execute],
                                         fileID: 3))
        XCTAssertEqual(child[1], Mapping(pid: 2, address: 0x40_0000 + (48 << 10), length: 16 << 10,
                                         protection: [.read, .write], fileID: 3, offset: 48 << 10))
        XCTAssertNil(child[2].fileID)
        XCTAssertTrue(child[3].flags.contains(.stack))
        XCTAssertTrue(child.contains { $0.fileID == 2 && $0.protection == [.read, .execute] }, "libc")
        // Each child fetches from its program's text.
        for pid in UInt32(2)...26 {
            XCTAssertTrue(events.contains { if case .access(let a) = $0, a.pid == pid, a.kind == .execute,
                                                  a.address < 0x40_0000 + (48 << 10) { return true }
                                              return false })
        }
        XCTAssertEqual(stats(Array(ShellLoopWorkload(iterations: 0))).count("fork"), 0)
    }

    func testForkServerWorkersRequestsHeapAndEarlyExits() {
        let heapSize: UInt64 = 2 << 20
        let steady = checkInsideMappings(ForkServerWorkload(workers: 5, heapSize: heapSize, writeFraction: 0.2,
                                                            requests: 40, earlyExit: 0))
        let s = stats(steady)
        XCTAssertEqual(s.count("fork"), 5)
        XCTAssertEqual(s.count("exit"), 6)
        // Two copyouts of each request into a worker.
        XCTAssertEqual(steady.filter { if case .access(let a) = $0 { return a.kind == .kernelWrite && a.pid > 1 }
                                       return false }.count, 5 * 40 * 2)
        let heap = mappings(steady).first { $0.length == heapSize }!
        // The server writes every heap page before forking.
        XCTAssertEqual(Set(accesses(steady, in: heap).filter { $0.pid == 1 }.map { $0.address / tracePageSize }).count,
                       Int(heapSize / tracePageSize))
        // Each worker writes only its window: a fifth of the pages.
        for pid in UInt32(2)...6 {
            let m = Mapping(pid: pid, address: heap.address, length: heap.length, protection: heap.protection)
            let written = Set(accesses(steady, in: m).filter { $0.kind == .write }.map { $0.address / tracePageSize })
            XCTAssertGreaterThan(written.count, 20)
            XCTAssertLessThanOrEqual(written.count, Int(heapSize / tracePageSize / 5))
        }
        let readOnly = Array(ForkServerWorkload(workers: 3, heapSize: heapSize, writeFraction: 0, requests: 30,
                                                earlyExit: 0))
        let shared = mappings(readOnly).first { $0.length == heapSize }!
        for pid in UInt32(2)...4 {
            let m = Mapping(pid: pid, address: shared.address, length: shared.length, protection: shared.protection)
            XCTAssertEqual(accesses(readOnly, in: m).filter { $0.kind == .write }.count, 0)
            XCTAssertGreaterThan(accesses(readOnly, in: m).count, 30 * 12)
        }

        // Early exits are replaced until every slot has served its requests.
        let churn = checkInsideMappings(ForkServerWorkload(workers: 5, heapSize: heapSize, requests: 40, earlyExit: 1))
        let c = stats(churn)
        XCTAssertGreaterThan(c.count("fork"), 10)
        XCTAssertEqual(c.count("exit"), c.count("fork") + 1)
        XCTAssertEqual(churn.filter { if case .access(let a) = $0 { return a.kind == .kernelWrite && a.pid > 1 }
                                      return false }.count, 5 * 40 * 2)
        XCTAssertEqual(churn.last, .exit(pid: 1))
    }

    func testStackDeepDepthFrameAndRecursions() {
        let w = StackDeepWorkload(depth: 2000, frame: 256, recursions: 1)
        let events = checkInsideMappings(w)
        let stack = mappings(events).first { $0.flags.contains(.stack) }!
        XCTAssertEqual(stack.length, 8 << 20)
        XCTAssertEqual(stack.address + stack.length, 0x8000_0000_0000)
        let lowest = accesses(events, in: stack).map(\.address).min()!
        let descent = 0x8000_0000_0000 - lowest
        XCTAssertGreaterThan(descent, 2000 * (256 + 16))
        XCTAssertLessThanOrEqual(descent, w.maxDescent + 4096 + 64)
        XCTAssertGreaterThan(descent, 128 << 10, "well below the initial 128 KiB")

        // Every recursion repeats the same calls: accesses grow by the same amount.
        let counts = (0...3).map { stats(Array(StackDeepWorkload(depth: 500, frame: 64, recursions: $0))).accesses }
        XCTAssertEqual(counts[2] - counts[1], counts[1] - counts[0])
        XCTAssertEqual(counts[3] - counts[2], counts[1] - counts[0])
        XCTAssertGreaterThan(counts[1] - counts[0], 500 * 12)
        // Deeper than RLIMIT_STACK: a larger reservation, still no access outside it.
        let deep = StackDeepWorkload(depth: 40_000, frame: 256, recursions: 1)
        XCTAssertEqual(deep.stackSize, 13 << 20)
        checkInsideMappings(deep)
    }
}
