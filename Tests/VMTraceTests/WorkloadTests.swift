// What every generated workload (`vmreplay gen`) promises: determinism by seed, accesses only
// inside mappings of the accessing process with a protection that allows them, sizes of 1 to 8
// bytes, traces the validator accepts after a write/read round trip, and laziness.

import Foundation
import XCTest
@testable import VMTrace
@testable import VMWorkloads

/// The address spaces of a trace's processes, kept as sorted, disjoint protected ranges:
/// `mmap` replaces (MAP_FIXED), `munmap` removes, `fork` copies, `exec` empties, `exit` drops,
/// `mprotect` changes protection. A `stack` mapping covers its whole reservation (the part
/// vm_map_growstack may grow into).
struct AddressSpaces {
    struct Range: Equatable {
        var start: UInt64
        var end: UInt64
        var protection: Protection
    }

    private(set) var spaces: [UInt32: [Range]] = [:]

    /// Applies `event`; for an access, returns what is wrong with it (nil when it is inside
    /// mappings that allow it).
    mutating func apply(_ event: TraceEvent) -> String? {
        switch event {
        case .proc(let pid, _): spaces[pid] = []
        case .fork(let parent, let child): spaces[child] = spaces[parent] ?? []
        case .exec(let pid): spaces[pid] = []
        case .exit(let pid): spaces[pid] = nil
        case .mmap(let m): insert(m.pid, Range(start: m.address, end: m.address + m.length, protection: m.protection))
        case .munmap(let pid, let address, let length): remove(pid, address, address + length)
        case .mprotect(let pid, let address, let length, let protection):
            for r in ranges(pid, address, address + length) {
                insert(pid, Range(start: r.start, end: r.end, protection: protection))
            }
        case .access(let a): return problem(a)
        default: break
        }
        return nil
    }

    /// The mapped pieces of [start, end) in `pid`.
    private func ranges(_ pid: UInt32, _ start: UInt64, _ end: UInt64) -> [Range] {
        (spaces[pid] ?? []).compactMap { r in
            let s = max(r.start, start), e = min(r.end, end)
            return s < e ? Range(start: s, end: e, protection: r.protection) : nil
        }
    }

    private mutating func remove(_ pid: UInt32, _ start: UInt64, _ end: UInt64) {
        var out: [Range] = []
        for r in spaces[pid] ?? [] {
            if r.end <= start || r.start >= end {
                out.append(r)
                continue
            }
            if r.start < start { out.append(Range(start: r.start, end: start, protection: r.protection)) }
            if r.end > end { out.append(Range(start: end, end: r.end, protection: r.protection)) }
        }
        spaces[pid] = out
    }

    private mutating func insert(_ pid: UInt32, _ range: Range) {
        remove(pid, range.start, range.end)
        var list = spaces[pid] ?? []
        list.append(range)
        list.sort { $0.start < $1.start }
        // Merge abutting ranges of the same protection.
        var merged: [Range] = []
        for r in list {
            if let last = merged.last, last.end == r.start, last.protection == r.protection {
                merged[merged.count - 1].end = r.end
            } else {
                merged.append(r)
            }
        }
        spaces[pid] = merged
    }

    private func problem(_ a: Access) -> String? {
        guard let list = spaces[a.pid] else { return "process \(a.pid) has no address space" }
        let needed: Protection
        switch a.kind {
        case .read, .kernelRead, .peek: needed = .read
        case .write, .kernelWrite, .poke: needed = .write
        case .execute: needed = .execute
        }
        var address = a.address
        let end = a.address + UInt64(a.size)
        // Binary search for the last range starting at or below the address.
        var lo = 0, hi = list.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if list[mid].start <= address { lo = mid + 1 } else { hi = mid }
        }
        var i = lo - 1
        while address < end {
            guard i >= 0, i < list.count, list[i].start <= address, address < list[i].end else {
                return "\(a.kind.keyword) \(a.pid) 0x\(String(address, radix: 16)) is outside every mapping"
            }
            guard list[i].protection.contains(needed) else {
                return "\(a.kind.keyword) \(a.pid) 0x\(String(address, radix: 16)) needs \(needed) in a \(list[i].protection) mapping"
            }
            address = list[i].end
            i += 1
        }
        return nil
    }

    /// The range of `pid` containing `address`.
    func range(_ pid: UInt32, containing address: UInt64) -> Range? {
        spaces[pid]?.first { $0.start <= address && address < $0.end }
    }
}

/// Every workload at a small size, with the knobs turned from their defaults.
func smallWorkloads(seed: UInt64) -> [(name: String, events: AnySequence<TraceEvent>)] {
    [
        ("seq-anon", AnySequence(SequentialAnonWorkload(size: 2 << 20, stride: 256, writeFraction: 0.7, passes: 2,
                                                        seed: seed))),
        ("random-anon", AnySequence(RandomAnonWorkload(workingSet: 4 << 20, touches: 20_000, seed: seed))),
        ("file-scan", AnySequence(FileScanWorkload(size: 3 << 20, stride: 128, passes: 2, advice: .sequential,
                                                   seed: seed))),
        ("heap", AnySequence(HeapWorkload(allocations: 6000, maxHeap: 1 << 20, chunk: 64 << 10, seed: seed))),
        ("shell-loop", AnySequence(ShellLoopWorkload(iterations: 40, programSize: 100 << 10, seed: seed))),
        ("fork-server", AnySequence(ForkServerWorkload(workers: 4, heapSize: 2 << 20, requests: 150, earlyExit: 0.5,
                                                       seed: seed))),
        ("stack-deep", AnySequence(StackDeepWorkload(depth: 3000, frame: 200, recursions: 2, seed: seed))),
        ("vkernel", AnySequence(VKernelWorkload(guestPages: 700, touches: 5000, writeFraction: 0.5, scans: 3,
                                                seed: seed))),
    ]
}

/// Checks every access of `events` against the address spaces; returns the events and the
/// first problems.
@discardableResult
func checkInsideMappings<S: Sequence>(_ events: S, file: StaticString = #filePath, line: UInt = #line,
                                      _ name: String = "") -> [TraceEvent] where S.Element == TraceEvent {
    var spaces = AddressSpaces()
    var problems: [String] = []
    var all: [TraceEvent] = []
    for event in events {
        all.append(event)
        if let p = spaces.apply(event) { problems.append(p) }
        if case .access(let a) = event {
            XCTAssert((1...8).contains(a.size), "\(name): size \(a.size)", file: file, line: line)
        }
    }
    XCTAssertEqual(problems.count, 0, "\(name): \(problems.prefix(5))", file: file, line: line)
    return all
}

final class WorkloadTests: TraceTestCase {
    func testSameSeedSameEventsOtherSeedOtherEvents() {
        let a = smallWorkloads(seed: 5), b = smallWorkloads(seed: 5), c = smallWorkloads(seed: 6)
        for i in a.indices {
            let first = Array(a[i].events)
            XCTAssertEqual(first, Array(b[i].events), a[i].name)
            XCTAssertNotEqual(first, Array(c[i].events), a[i].name)
            // A sequence iterates the same way twice.
            XCTAssertEqual(first, Array(a[i].events), a[i].name)
        }
    }

    func testEveryAccessIsInsideAMappingThatAllowsIt() {
        for seed: UInt64 in [1, 2, 3] {
            for (name, events) in smallWorkloads(seed: seed) {
                checkInsideMappings(events, "\(name) seed \(seed)")
            }
        }
    }

    func testTheCheckerCatchesAccessesOutsideMappings() throws {
        var spaces = AddressSpaces()
        let events = try parse("""
            vmtrace 1
            proc 1
            mmap 1 0x10000 8K rw- private anon
            mmap 1 0x12000 4K r-x private anon
            mmap 1 0x100000 64K rw- private anon stack
            fork 1 2
            munmap 1 0x10000 4K
            exec 2
            mmap 2 0x10000 4K rw- private anon
            """)
        for e in events { XCTAssertNil(spaces.apply(e)) }
        func check(_ kind: AccessKind, _ pid: UInt32, _ address: UInt64, _ size: UInt32 = 8) -> Bool {
            spaces.apply(.access(Access(kind: kind, pid: pid, address: address, size: size))) == nil
        }
        XCTAssertFalse(check(.read, 1, 0x10000))  // unmapped
        XCTAssertTrue(check(.write, 1, 0x11ff8))
        XCTAssertFalse(check(.write, 1, 0x11ffc))  // spans into r-x
        XCTAssertTrue(check(.execute, 1, 0x12000))
        XCTAssertFalse(check(.execute, 1, 0x13000, 1))
        XCTAssertTrue(check(.write, 1, 0x100000))  // the bottom of a stack reservation
        XCTAssertTrue(check(.write, 2, 0x10ff8))
        XCTAssertFalse(check(.write, 2, 0x11000))  // exec emptied the map
        XCTAssertFalse(check(.read, 3, 0))
    }

    /// Written with TraceWriter (which validates) in both encodings and read back unchanged.
    func testTracesRoundTripThroughWriterAndReader() throws {
        for (name, events) in smallWorkloads(seed: 11) {
            let expected = Array(events)
            for file in ["\(name).vmt.gz", "\(name).txt"] {
                let path = scratch.file(file)
                let writer = try TraceWriter(path: path)
                try writer.write(contentsOf: events)
                try writer.finish()
                XCTAssertEqual(writer.eventsWritten, UInt64(expected.count), file)
                XCTAssertEqual(try TraceReader.readAll(path: path), expected, file)
            }
        }
    }

    /// Mappings are page aligned, processes exit at the end, only `vmtrace 1` events appear.
    func testMappingsArePageAlignedAndEveryProcessExits() {
        for (name, events) in smallWorkloads(seed: 2) {
            var live = Set<UInt32>()
            var validator = TraceValidator()
            for event in events {
                XCTAssertNil(validator.check(event), "\(name): \(event)")
                switch event {
                case .proc(let pid, _): live.insert(pid)
                case .fork(_, let child): live.insert(child)
                case .exit(let pid): live.remove(pid)
                case .mmap(let m):
                    XCTAssertEqual(m.address % tracePageSize, 0, name)
                    XCTAssertEqual(m.length % tracePageSize, 0, name)
                default: break
                }
            }
            XCTAssertEqual(live, [], "\(name): processes left running")
        }
    }

    /// Generation is lazy: a workload of about 10^12 touches yields its first events at once.
    func testHugeWorkloadsStreamInConstantMemory() {
        let huge: [(String, AnySequence<TraceEvent>)] = [
            ("seq-anon", AnySequence(SequentialAnonWorkload(size: 1 << 40, stride: 8))),
            ("random-anon", AnySequence(RandomAnonWorkload(workingSet: 1 << 40, touches: 1 << 40))),
            ("heap", AnySequence(HeapWorkload(allocations: 1 << 40, maxHeap: 1 << 40))),
            ("shell-loop", AnySequence(ShellLoopWorkload(iterations: 1 << 40))),
            ("fork-server", AnySequence(ForkServerWorkload(workers: 1000, heapSize: 1 << 30, requests: 1 << 40))),
            ("stack-deep", AnySequence(StackDeepWorkload(depth: 1 << 20, frame: 16, recursions: 1 << 40))),
            ("vkernel", AnySequence(VKernelWorkload(guestPages: 4096, touches: 1 << 40))),
        ]
        for (name, events) in huge {
            var n = 0
            for _ in events {
                n += 1
                if n == 300_000 { break }
            }
            XCTAssertEqual(n, 300_000, name)
        }
    }

    func testCommandLineParsesSizesAndCountsAndRejectsBadKnobs() throws {
        let binary = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
            .appendingPathComponent("vmreplay")
        guard FileManager.default.isExecutableFile(atPath: binary.path) else { throw XCTSkip("no vmreplay binary") }
        func run(_ arguments: [String]) throws -> Int32 {
            let process = Process()
            process.executableURL = binary
            process.arguments = arguments
            process.standardError = Pipe()
            try process.run()
            process.waitUntilExit()
            return process.terminationStatus
        }
        let out = scratch.file("g.txt")
        XCTAssertEqual(try run(["gen", "seq-anon", "--size", "1M", "--stride", "4K", "--passes", "2K",
                                "--write-fraction", "0.5", "--seed", "3", "-o", out]), 0)
        let events = try TraceReader.readAll(path: out)
        XCTAssertEqual(events, Array(SequentialAnonWorkload(size: 1 << 20, stride: 4096, writeFraction: 0.5,
                                                            passes: 2000, seed: 3)))
        XCTAssertEqual(try run(["gen", "random", "--accesses", "1K", "-o", out]), 0)
        XCTAssertEqual(try TraceReader.readAll(path: out), Array(SyntheticWorkload(accesses: 1000)))
        for bad in [["seq-anon", "--write-fraction", "1.5"], ["heap", "--max-heap", "512K"],
                    ["file-scan", "--advice", "dontneed"], ["shell-loop", "--program-size", "4K"],
                    ["fork-server", "--workers", "0"], ["stack-deep", "--frame", "0"], ["vkernel", "--guest-pages", "0"],
                    ["no-such"]] {
            XCTAssertEqual(try run(["gen"] + bad + ["-o", out]), 64, "\(bad)")
        }
    }
}
