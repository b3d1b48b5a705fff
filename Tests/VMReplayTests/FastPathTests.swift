// The replay's fast paths (docs/performance.md) change no counter: packed batches with runs of
// same-page accesses counted in one step give exactly the report of applying every event on
// its own, on the sample traces and generated ones, with and without memory pressure and OOM
// kills; the packed batches hold exactly the events the reader decodes, and the decoder only
// marks true continuations of runs.
import Foundation
import VMKernel
@testable import VMReplay
@testable import VMTrace
@testable import VMWorkloads
import XCTest

final class FastPathTests: XCTestCase {
    static let tracesDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("traces")
    static let scenariosDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Scenarios")

    var tempDir: URL!

    override func setUpWithError() throws {
        tempDir = FileManager.default.temporaryDirectory.appendingPathComponent("vmreplay-fast-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: tempDir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: tempDir)
    }

    func deterministic(_ r: Report) -> [String: String] {
        var d: [String: String] = [:]
        for (k, v) in r.entries where !k.hasSuffix("_seconds") && !k.hasSuffix("_per_second") {
            d[k] = "\(v)"
        }
        return d
    }

    /// Every event applied on its own (`Replayer.apply(_: TraceEvent)`), no runs, no packing.
    func referenceReport(_ path: String, _ config: ReplayConfiguration) throws -> [String: String] {
        let events = try TraceReader.readAll(path: path)
        let replayer = try Replayer(config)
        for e in events { try replayer.apply(e) }
        var report = replayer.finish()
        report.set("replay.skipped_events", 0)
        return deterministic(report)
    }

    func fastReport(_ path: String, _ config: ReplayConfiguration) throws -> [String: String] {
        deterministic(try ReplayDriver.run(path: path, configuration: config).0)
    }

    func generated(_ name: String, seed: UInt64, accesses: Int = 60_000) throws -> String {
        let path = tempDir.appendingPathComponent(name).path
        let writer = try TraceWriter(path: path)
        try SyntheticWorkload(accesses: accesses, seed: seed, processes: 3, forks: 3).write(to: writer)
        try writer.finish()
        return path
    }

    func testRunsAndPackingChangeNoCounter() throws {
        var paths = try FileManager.default.contentsOfDirectory(atPath: Self.tracesDirectory.path)
            .filter { $0.hasSuffix(".vmt.gz") }.sorted()
            .map { Self.tracesDirectory.appendingPathComponent($0).path }
        XCTAssertGreaterThanOrEqual(paths.count, 9)
        // Binary and text (text batches get their runs from AccessRunMap.mark).
        paths.append(try generated("gen.vmt.gz", seed: 11))
        paths.append(try generated("gen.txt", seed: 12))
        let configs: [(String, ReplayConfiguration)] = [
            ("defaults", ReplayConfiguration()),
            ("prefault 0, no fast fault", ReplayConfiguration(tunables: try Setting.tunables([
                ("vm.prefault_pages", 0), ("vm.fast_fault", 0)]))),
            // The pagedaemon runs between the accesses of runs.
            ("8M RAM + swap", ReplayConfiguration(physicalMemory: 8 << 20, swap: 64 << 20)),
            // OOM kills: the rest of a killed process's runs must be counted as after the kill.
            ("4M RAM, no swap", ReplayConfiguration(physicalMemory: 4 << 20, swap: 0)),
        ]
        for path in paths {
            // Every configuration for the generated traces; two for the samples (time).
            let generated = path.hasPrefix(tempDir.path)
            for (name, config) in configs where generated || name == "defaults" || name == "8M RAM + swap" {
                let reference = try referenceReport(path, config)
                let fast = try fastReport(path, config)
                let diff = reference.keys.filter { reference[$0] != fast[$0] }.sorted()
                XCTAssertEqual(diff, [], "\((path as NSString).lastPathComponent) [\(name)]: " +
                               diff.prefix(5).map { "\($0) \(reference[$0] ?? "-") vs \(fast[$0] ?? "-")" }.joined(separator: ", "))
            }
        }
    }

    func testEveryScenarioGivesTheSameReportBothWays() throws {
        let names = try FileManager.default.contentsOfDirectory(atPath: Self.scenariosDirectory.path)
            .filter { $0.hasSuffix(".vmtrace") }.sorted()
        XCTAssertGreaterThanOrEqual(names.count, 40)
        for name in names {
            let path = Self.scenariosDirectory.appendingPathComponent(name).path
            let config = ReplayConfiguration(physicalMemory: 16 << 20, swap: 32 << 20)
            XCTAssertEqual(try referenceReport(path, config), try fastReport(path, config), name)
        }
    }

    /// A binary trace with every access kind, sizes the fast path takes and those it leaves to
    /// the general path (explicit, multi-byte and ≥ 16 MiB), pid switches and other events.
    func mixedTrace() throws -> String {
        let path = tempDir.appendingPathComponent("mixed.vmt").path
        let writer = try TraceWriter(path: path)
        var events: [TraceEvent] = [
            .proc(pid: 1, threads: 1), .proc(pid: 2, threads: 1),
            .mmap(Mapping(pid: 1, address: 0x10000, length: 1 << 26, protection: [.read, .write],
                          flags: [], fileID: nil, offset: 0)),
        ]
        var rng = SplitMix64(seed: 99)
        let kinds: [AccessKind] = [.read, .write, .execute, .kernelRead, .kernelWrite, .peek, .poke]
        let sizes: [UInt32] = [1, 4, 8, 2, 3, 127, 128, 4096, 1 << 24, (1 << 24) + 5]
        var address: UInt64 = 0x10000
        for i in 0..<20_000 {
            let pid: UInt32 = rng.next() % 50 == 0 ? 2 : 1
            if rng.next() % 4 == 0 { address = 0x10000 + (rng.next() % 4000) * 16 } else { address &+= 8 }
            let kind = kinds[Int(rng.next() % 100 < 90 ? rng.next() % 2 : rng.next() % 7)]
            var size = sizes[Int(rng.next() % 100 < 95 ? rng.next() % 3 : rng.next() % UInt64(sizes.count))]
            if kind == .peek || kind == .poke { size = 1 }
            events.append(.access(Access(kind: kind, pid: pid, address: address, size: size)))
            if i % 5000 == 4999 { events.append(.threads(pid: 1, count: 2)) }
        }
        for e in events { try writer.write(e) }
        try writer.finish()
        return path
    }

    func testPackedBatchesHoldTheDecodedEventsAndOnlyTrueRuns() throws {
        let path = try mixedTrace()
        let expected = try TraceReader.readAll(path: path)
        for batchSize in [1, 7, 4096] {
            let reader = try TraceReader(path: path, options: .init(batchSize: batchSize))
            var batch = ReplayBatch()
            var got: [TraceEvent] = []
            var marked = 0
            while try reader.nextBatch(into: &batch) {
                let events = batch.events
                got += events
                var reference = AccessRunMap()
                reference.mark(events)
                XCTAssertEqual(batch.runs.count, events.count)
                for (w, word) in batch.runs.words.enumerated() {
                    // Never a bit the reference marking does not have.
                    XCTAssertEqual(word & ~reference.words[w], 0, "batch size \(batchSize), word \(w)")
                    marked += word.nonzeroBitCount
                }
            }
            XCTAssertEqual(got, expected, "batch size \(batchSize)")
            if batchSize > 1 { XCTAssertGreaterThan(marked, 1000, "batch size \(batchSize)") }
        }
    }

    func testRunLengthReadsAcrossWords() {
        var map = AccessRunMap()
        // Events 0...199: one page, one process, reads; then a write to another page.
        var events = (0..<200).map { TraceEvent.access(Access(kind: .read, pid: 1, address: 0x5000 + UInt64($0 % 512) * 8, size: 8)) }
        events.append(.access(Access(kind: .write, pid: 1, address: 0x9000, size: 8)))
        events.append(.access(Access(kind: .read, pid: 1, address: 0x9008, size: 8)))   // read after write: continues
        events.append(.access(Access(kind: .write, pid: 1, address: 0x9010, size: 8)))   // write after read: a new run (a read vouches for reads only)
        events.append(.access(Access(kind: .read, pid: 2, address: 0x9010, size: 8)))    // another process
        events.append(.access(Access(kind: .read, pid: 2, address: 0x9ffc, size: 8)))    // crosses a page: starts nothing
        map.mark(events)
        map.words.withUnsafeBufferPointer { words in
            XCTAssertEqual(AccessRunMap.runLength(after: 0, in: words, count: events.count), 199)
            XCTAssertEqual(AccessRunMap.runLength(after: 63, in: words, count: events.count), 136)
            XCTAssertEqual(AccessRunMap.runLength(after: 199, in: words, count: events.count), 0)
            XCTAssertEqual(AccessRunMap.runLength(after: 200, in: words, count: events.count), 1)
            XCTAssertEqual(AccessRunMap.runLength(after: 202, in: words, count: events.count), 0)
            XCTAssertEqual(AccessRunMap.runLength(after: 203, in: words, count: events.count), 0)
            XCTAssertEqual(AccessRunMap.runLength(after: 204, in: words, count: events.count), 0)
        }
    }
}
