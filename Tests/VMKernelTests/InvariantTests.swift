// The engine's invariants (Sources/VMKernel/Invariants.swift): the checker finds each kind of
// corruption it claims to; a random workload keeps every invariant after every event, with and
// without memory pressure; and every scenario trace, every trace under traces/ and generated
// workloads replay with `--check-invariants` (through the built `vmreplay`, since this test
// target links only VMKernel) with plenty of memory, with little memory and no swap, and with
// little memory and swap.
import Foundation
@testable import VMKernel
import X86MMU
import XCTest

final class InvariantTests: XCTestCase {
    static let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()

    /// A small busy machine: two processes sharing a file, a fork with COW, a shadow chain.
    private func busyKernel(physMem: UInt64 = 64 << 20, swap: UInt64 = 0) throws -> Kernel {
        let k = try Kernel(physicalMemory: physMem, swap: swap)
        try k.declareFile(id: 1, size: 64 << 10, resident: true, path: "lib")
        try k.createProcess(pid: 1)
        try k.mmap(pid: 1, MmapRequest(address: 0x1000_0000, length: 64 << 10, protection: [.read, .write],
                                       shared: false, fileID: nil))
        try k.mmap(pid: 1, MmapRequest(address: 0x2000_0000, length: 64 << 10, protection: [.read, .execute],
                                       shared: false, fileID: 1))
        for i in 0..<8 { try k.access(pid: 1, address: 0x1000_0000 + UInt64(i) * 4096, size: 1, type: .write) }
        try k.access(pid: 1, address: 0x2000_0000, size: 1, type: .execute)
        try k.fork(parent: 1, child: 2)
        try k.access(pid: 2, address: 0x1000_0000, size: 1, type: .read)
        try k.access(pid: 2, address: 0x1000_1000, size: 1, type: .write)
        try k.access(pid: 1, address: 0x1000_2000, size: 1, type: .write)
        return k
    }

    private func assertViolation(_ k: Kernel, _ invariant: InvariantViolation.Invariant,
                                 file: StaticString = #filePath, line: UInt = #line)
    {
        let found = k.invariantViolations()
        XCTAssertTrue(found.contains { $0.invariant == invariant },
                      "expected a \(invariant.rawValue) violation, got \(found)", file: file, line: line)
    }

    func testBusyKernelHoldsEveryInvariant() throws {
        let k = try busyKernel()
        XCTAssertEqual(k.invariantViolations(), [])
        try k.exit(pid: 2)
        try k.exec(pid: 1)
        XCTAssertNoThrow(try k.checkInvariants())
    }

    // MARK: the checker sees what it claims to

    func testDetectsWrongReferenceCount() throws {
        let k = try busyKernel()
        let o = try XCTUnwrap(k.map(of: 1)?.entry(containing: 0x1000_0000)?.object)
        o.refCount += 1
        assertViolation(k, .objectReferences)
    }

    func testDetectsBrokenShadowList() throws {
        let k = try busyKernel()
        let top = try XCTUnwrap(k.map(of: 2)?.entry(containing: 0x1000_0000)?.object)
        let backing = try XCTUnwrap(top.backingObject)
        backing.shadows.removeAll { $0 === top }
        assertViolation(k, .shadowLists)
    }

    func testDetectsStalePTE() throws {
        let k = try busyKernel()
        let pmap = try XCTUnwrap(k.map(of: 1)?.pmap)
        let pte = try XCTUnwrap(pmap.table.pte(at: 0x1000_0000))
        // The same frame mapped where no entry is.
        _ = pmap.table.setPTE(at: 0x5000_0000, pte)
        assertViolation(k, .pteMappings)
    }

    func testDetectsMissingPVEntry() throws {
        let k = try busyKernel()
        let pmap = try XCTUnwrap(k.map(of: 1)?.pmap)
        let pte = try XCTUnwrap(pmap.table.pte(at: 0x1000_3000))
        k.physmem.page(frame: pte.frame).removeMapping(PVEntry(pmapID: pmap.id, va: 0x1000_3000))
        assertViolation(k, .pvLists)
    }

    func testDetectsWritableMappingOfABackingPage() throws {
        let k = try busyKernel()
        // Pid 2 read 0x1000_0000 after the fork: a read-only mapping of the parent-side page.
        let pmap = try XCTUnwrap(k.map(of: 2)?.pmap)
        pmap.table.updatePTE(at: 0x1000_0000) { $0.raw |= PTE.writable }
        assertViolation(k, .pteMappings)
    }

    func testDetectsQueueCorruption() throws {
        let k = try busyKernel()
        let pmap = try XCTUnwrap(k.map(of: 1)?.pmap)
        let m = k.physmem.page(frame: try XCTUnwrap(pmap.table.pte(at: 0x1000_3000)).frame)
        k.physmem.unqueue(m)
        assertViolation(k, .pageQueues)
    }

    func testDetectsFreePageStillMapped() throws {
        let k = try busyKernel()
        let pmap = try XCTUnwrap(k.map(of: 1)?.pmap)
        let m = k.physmem.page(frame: try XCTUnwrap(pmap.table.pte(at: 0x1000_4000)).frame)
        k.vmPageRemove(m)
        k.physmem.freeFrame(m)
        XCTAssertFalse(k.invariantViolations().isEmpty)
        assertViolation(k, .pteMappings)
    }

    func testDetectsLeakedSwapBlock() throws {
        let k = try busyKernel(swap: 1 << 20)
        _ = k.swapSpace.allocate()
        assertViolation(k, .swapBlocks)
    }

    func testDetectsOverlappingEntries() throws {
        let k = try busyKernel()
        let map = try XCTUnwrap(k.map(of: 1))
        map.entries[0].end = map.entries[1].start + pageSize
        assertViolation(k, .mapEntries)
    }

    // MARK: engine bugs the checker found (regressions)

    private func anonymous(_ k: Kernel, _ address: UInt64, _ length: UInt64, device: Bool = false) throws {
        try k.mmap(pid: 1, MmapRequest(address: address, length: length, protection: [.read, .write],
                                       shared: device, fileID: nil, device: device))
    }

    /// Clipping an mlock'ed entry (here: munlock of its first page) gave the split-off rest
    /// MAP_ENTRY_USER_WIRED with wired_count 0: munlocking it then drove wired_count to -1 and its
    /// pages stayed wired for good (v_wire_count never came down).
    func testClippedWiredEntryStaysWired() throws {
        let k = try Kernel(physicalMemory: 64 << 20)
        try k.createProcess(pid: 1)
        let tablePages = k.physmem.wiredCount
        try anonymous(k, 0x1000_0000, 16 << 10)
        try k.mlock(pid: 1, address: 0x1000_0000, length: 16 << 10)
        try k.munlock(pid: 1, address: 0x1000_0000, length: 4096)
        XCTAssertEqual(k.invariantViolations(), [])
        try k.munlock(pid: 1, address: 0x1000_1000, length: 12 << 10)
        XCTAssertEqual(k.invariantViolations(), [])
        XCTAssertEqual(k.physmem.wiredCount, k.map(of: 1)!.pmap.tableFrames.count)
        XCTAssertGreaterThanOrEqual(k.physmem.wiredCount, tablePages)
    }

    /// mlock of a device mapping wired its fictitious pages into v_wire_count, and vm_fault_unwire
    /// (rightly) never unwires fictitious pages: the count only ever grew.
    func testWiringDevicePagesLeavesWiredCountAlone() throws {
        let k = try Kernel(physicalMemory: 64 << 20)
        try k.createProcess(pid: 1)
        try anonymous(k, 0x1000_0000, 16 << 10, device: true)
        try k.mlock(pid: 1, address: 0x1000_0000, length: 16 << 10)
        XCTAssertEqual(k.invariantViolations(), [])
        XCTAssertEqual(k.physmem.wiredCount, k.map(of: 1)!.pmap.tableFrames.count)
    }

    /// Known, faithful to the seed, left as is: fork copies a wired COW entry with PTEs of
    /// max_protection (seed:2445) and keeps NEEDS_COPY; when that child forks in turn,
    /// vm_map_copy_entry skips pmap_protect for a NEEDS_COPY entry, so the child keeps a
    /// writable PTE onto the object it now shares with the grandchild: its writes to a read-only
    /// mapping neither fault nor stay private.
    func testWiredForkQuirk() throws {
        let k = try Kernel(physicalMemory: 64 << 20)
        try k.declareFile(id: 1, size: 16 << 10, resident: true, path: "f")
        try k.createProcess(pid: 1)
        try k.mmap(pid: 1, MmapRequest(address: 0x1000_0000, length: 16 << 10, protection: .read,
                                       shared: false, fileID: 1))
        try k.mlock(pid: 1, address: 0x1000_0000, length: 16 << 10)
        try k.fork(parent: 1, child: 2)
        XCTAssertEqual(k.invariantViolations(), [])
        try k.access(pid: 2, address: 0x1000_0000, size: 1, type: .write)
        XCTAssertEqual(k.counters.segvAccerr, 0) // a write to r-- that does not fault (seed:2445)
        try k.fork(parent: 2, child: 3)
        let violations = k.invariantViolations()
        XCTAssertEqual(violations.count, 4, "\(violations)") // one per page of the entry
        XCTAssertTrue(violations.allSatisfy(\.isKnownSeedQuirk), "\(violations)")
        throw XCTSkip("known engine bug, faithful to DragonFly (seed:2445 + vm_map_copy_entry): \(violations[0])")
    }

    // MARK: a random workload, checked after every event

    /// Random processes, mappings (anonymous, file, shared, private, stack, device), protection
    /// changes, advice, wiring, accesses of every kind, forks, execs and exits; the invariants
    /// are checked after every step. Three machines: roomy, 4M without swap (OOM kills), 4M with
    /// 8M of swap (pageout and swap-in).
    /// VMREPLAY_INVARIANT_SEEDS=N runs N seeds per machine instead of 4 (a longer hunt).
    func testRandomWorkloadKeepsInvariants() throws {
        let seeds = UInt64(ProcessInfo.processInfo.environment["VMREPLAY_INVARIANT_SEEDS"] ?? "") ?? 4
        for (physMem, swap) in [(UInt64(64) << 20, UInt64(0)), (4 << 20, 0), (4 << 20, 8 << 20)] {
            for seed in 1...max(seeds, 1) {
                try runRandomWorkload(seed: seed, physMem: physMem, swap: swap, steps: 1500)
            }
        }
    }

    private func runRandomWorkload(seed: UInt64, physMem: UInt64, swap: UInt64, steps: Int) throws {
        var rng = SplitMix(seed: seed &* 7919 &+ physMem &+ swap)
        var t = Tunables()
        let prefault: Int64 = [8, 0, 32][Int(seed % 3)]
        try t.set("vm.prefault_pages", to: prefault)
        try t.set("vm.shared_fault", to: Int64(seed & 1))
        let k = try Kernel(tunables: t, physicalMemory: physMem, swap: swap)
        // The access audit too: every completed access re-checked against the page table and
        // the entry's protection, as the CPU would allow it (AccessAudit.swift).
        k.auditAccesses = true
        // The steps as a text trace (SPEC §1), so that a failure can be replayed and cut down with
        // `vmreplay replay --check-invariants` and the options in its first line.
        var log = ["# vmreplay replay --check-invariants -s vm.prefault_pages=\(prefault) -s vm.shared_fault=\(seed & 1) "
                   + "--phys-mem \(physMem >> 10)K --swap \(swap >> 10)K", "vmtrace 1"]
        func hex(_ v: UInt64) -> String { "0x" + String(v, radix: 16) }
        for id in UInt32(1)...3 {
            let size = UInt64(rng.below(64) + 1) << 14
            try k.declareFile(id: id, size: size, resident: id == 1, path: "f\(id)")
            log.append("file \(id) \(size)" + (id == 1 ? " resident" : "") + " f\(id)")
        }
        let bases: [UInt64] = [0x1000_0000, 0x1001_0000, 0x2000_0000, 0x7fff_fff0_0000]
        for step in 0..<steps {
            let pid = UInt32(rng.below(4) + 1)
            let base = bases[Int(rng.below(UInt64(bases.count)))] + rng.below(16) * pageSize
            let length = (rng.below(32) + 1) * pageSize
            let prot = VMProt(rawValue: UInt8(rng.below(8)))
            let op = rng.below(23)
            let range = "\(pid) \(hex(base)) \(length)"
            do {
                switch op {
                case 0:
                    log.append("proc \(pid)")
                    try k.createProcess(pid: pid)
                case 1:
                    let child = UInt32(rng.below(4) + 1)
                    log.append("fork \(pid) \(child)")
                    try k.fork(parent: pid, child: child)
                case 2:
                    log.append("exit \(pid)")
                    try k.exit(pid: pid)
                case 3:
                    log.append("exec \(pid)")
                    try k.exec(pid: pid)
                case 4, 5:
                    let file: UInt32? = rng.below(2) == 0 ? nil : UInt32(rng.below(3) + 1)
                    let request = MmapRequest(address: base, length: length, protection: prot,
                                              shared: rng.below(3) == 0, fileID: file,
                                              offset: file == nil ? 0 : rng.below(4) * pageSize,
                                              stack: file == nil && rng.below(8) == 0,
                                              device: file == nil && rng.below(16) == 0,
                                              vpagetable: file == nil && rng.below(6) == 0)
                    var line = "mmap \(range) \(prot) \(request.shared ? "shared" : "private") "
                    line += file.map { "file=\($0) off=\(request.offset)" } ?? "anon"
                    if request.stack { line += " stack" }
                    if request.device { line += " device" }
                    if request.vpagetable { line += " vpagetable" }
                    log.append(line)
                    try k.mmap(pid: pid, request)
                case 6:
                    log.append("munmap \(range)")
                    try k.munmap(pid: pid, address: base, length: length)
                case 7:
                    log.append("mprotect \(range) \(prot)")
                    try k.mprotect(pid: pid, address: base, length: length, protection: prot)
                case 8:
                    let advice: [(MadviseAdvice, String)] = [(.normal, "normal"), (.random, "random"),
                        (.sequential, "sequential"), (.willneed, "willneed"), (.dontneed, "dontneed"), (.free, "free")]
                    let (kind, name) = advice[Int(rng.below(6))]
                    log.append("madvise \(range) \(name)")
                    try k.madvise(pid: pid, address: base, length: length, advice: kind)
                case 9:
                    log.append("mlock \(range)")
                    try k.mlock(pid: pid, address: base, length: length)
                case 10:
                    log.append("munlock \(range)")
                    try k.munlock(pid: pid, address: base, length: length)
                case 11:
                    log.append("drop_caches")
                    k.dropCaches()
                // The vkernel's calls (vm_fault_vpagetable's inputs): MADV_SETMAP with a master
                // entry that is linear, a table root, invalid or random; MADV_INVAL; stores of
                // VPTE-like words. Anywhere, so that they also meet entries that are not
                // VPAGETABLE and ranges that run past an entry's end.
                case 12:
                    let masters: [UInt64] = [0x83, 0x3, 0x7, 0x0, 0x4083, rng.next()]
                    let value = masters[Int(rng.below(UInt64(masters.count)))]
                    log.append("madvise \(range) setmap \(hex(value))")
                    try k.madviseSetmap(pid: pid, address: base, length: length, value: value)
                case 13:
                    log.append("madvise \(range) inval")
                    try k.madvise(pid: pid, address: base, length: length, advice: .inval)
                case 14:
                    let words: [UInt64] = [0x1003, 0x2007, 0x8083, 0x9005, 0x8000_0000_0000_8083, 0, rng.next()]
                    let address = base + rng.below(512) * 8
                    let value = words[Int(rng.below(UInt64(words.count)))]
                    log.append("store \(pid) \(hex(address)) \(hex(value))")
                    try k.store(pid: pid, address: address, value: value)
                default:
                    let types: [(AccessType, String)] = [(.read, "r"), (.write, "w"), (.write, "w"), (.execute, "x"),
                        (.kernelRead, "kr"), (.kernelWrite, "kw"), (.peek, "peek"), (.poke, "poke")]
                    let address = base + rng.below(4096)
                    let size = UInt32(rng.below(3) * 4096 + 1)
                    let (type, name) = types[Int(rng.below(UInt64(types.count)))]
                    log.append(type == .peek || type == .poke ? "\(name) \(pid) \(hex(address))"
                                                              : "\(name) \(pid) \(hex(address)) \(size)")
                    try k.access(pid: pid, address: address, size: size, type: type)
                }
            } catch .killed {
                // The OOM killer ended the process mid-access: an answer, not a failure.
            } catch {
                // Unknown processes, bad ranges: refused before anything changed, and a trace
                // reader would refuse them too, so they stay out of the log.
                log.removeLast()
            }
            let where_ = "seed \(seed), \(physMem >> 20)M RAM, \(swap >> 20)M swap, after step \(step)"
            if let failure = k.auditFailure {
                return failRandomWorkload("\(where_): \(failure)", log)
            }
            let violations = k.invariantViolations(limit: 3)
            if violations.contains(where: \.isKnownSeedQuirk) { return } // testWiredForkQuirk
            if !violations.isEmpty {
                return failRandomWorkload("\(where_): \(violations)", log)
            }
        }
    }

    /// Reports a random workload's failure with its last steps; VMREPLAY_INVARIANT_DUMP=FILE
    /// writes the whole workload there as a text trace.
    private func failRandomWorkload(_ message: String, _ log: [String]) {
        if let dump = ProcessInfo.processInfo.environment["VMREPLAY_INVARIANT_DUMP"] {
            try? log.joined(separator: "\n").appending("\n").write(toFile: dump, atomically: true, encoding: .utf8)
        }
        XCTFail(message + "\n" + log.suffix(30).joined(separator: "\n"))
    }

    // MARK: every sample trace, through the built command

    private func executable() throws -> URL {
        let candidates = [
            URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("vmreplay"),
            Bundle.main.bundleURL.appendingPathComponent("vmreplay"),
        ]
        guard let found = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0.path) }) else {
            throw XCTSkip("vmreplay executable not found next to the test bundle")
        }
        return found
    }

    /// Runs vmreplay with `arguments`; returns its exit status and standard error.
    @discardableResult
    private func run(_ arguments: [String]) throws -> (Int32, String) {
        let process = Process()
        process.executableURL = try executable()
        process.arguments = arguments
        process.standardOutput = FileHandle.nullDevice
        let stderr = Pipe()
        process.standardError = stderr
        try process.run()
        let message = String(decoding: stderr.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        return (process.terminationStatus, message)
    }

    /// The memory configurations every trace is checked under.
    static let machines: [[String]] = [[], ["--phys-mem", "4M"], ["--phys-mem", "4M", "--swap", "64M"],
                                       ["--phys-mem", "16M", "--swap", "8M"]]

    /// With the default memory the replay must succeed; a small machine may also refuse a trace
    /// whose resident files do not fit ("out of simulated memory", exit 65). Never an engine bug.
    private func assertInvariantsHold(_ trace: String, interval: Int) throws {
        for machine in Self.machines {
            let (status, message) = try run(["replay", trace, "--check-invariants", "--invariant-interval",
                                             String(interval), "--format", "sysctl", "--no-progress"] + machine)
            let refused = !machine.isEmpty && status == 65 && message.contains("out of simulated memory")
            XCTAssertTrue(status == 0 || refused, "\(trace) \(machine.joined(separator: " ")): \(message)")
        }
    }

    func testScenarioTracesKeepInvariants() throws {
        let dir = Self.repo.appendingPathComponent("Tests/VMReplayTests/Scenarios")
        let names = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasSuffix(".vmtrace") }
        XCTAssertGreaterThan(names.count, 40)
        for name in names.sorted() {
            try assertInvariantsHold(dir.appendingPathComponent(name).path, interval: 1)
        }
    }

    func testSampleTracesKeepInvariants() throws {
        let dir = Self.repo.appendingPathComponent("traces")
        let names = try FileManager.default.contentsOfDirectory(atPath: dir.path)
            .filter { $0.hasSuffix(".vmt.gz") || $0.hasSuffix(".vmt") || $0.hasSuffix(".txt") }
        XCTAssertFalse(names.isEmpty)
        for name in names.sorted() {
            try assertInvariantsHold(dir.appendingPathComponent(name).path, interval: 20_000)
        }
    }

    func testGeneratedTracesKeepInvariants() throws {
        let dir = NSTemporaryDirectory() + "invariants-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let workloads: [[String]] = [
            ["synthetic", "--accesses", "100K", "--seed", "11", "--processes", "4", "--forks", "4"],
            ["fork-server", "--seed", "3"],
            ["shell-loop", "--iterations", "5"],
            ["heap", "--seed", "5"],
        ]
        for (i, workload) in workloads.enumerated() {
            let trace = "\(dir)/gen\(i).vmt.gz"
            let (status, message) = try run(["gen"] + workload + ["-o", trace])
            XCTAssertEqual(status, 0, "gen \(workload): \(message)")
            try assertInvariantsHold(trace, interval: 5_000)
        }
    }
}

/// A small deterministic generator (SplitMix64).
private struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func below(_ n: UInt64) -> UInt64 { next() % n }
}
