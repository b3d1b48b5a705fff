// A real recording end to end: `scripts/record.sh /bin/true` kept its logs (Valgrind 3.19,
// Debian 12, x86-64); the Lackey log is stored gzip-compressed (the importer reads gzip), the
// `valgrind -d` standard error as is.

import Foundation
import XCTest
@testable import VMTrace
@testable import VMTraceLackey

final class LackeyRecordingTests: TraceTestCase {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Fixtures/lackey")
    static let log = fixtures.appendingPathComponent("true.lk.log.gz").path
    static let layout = fixtures.appendingPathComponent("true.valgrind-stderr.txt").path

    func importTrue(layout: Bool) throws -> ([TraceEvent], LackeyImportSummary) {
        var options = LackeyImportOptions()
        if layout { options.layoutPaths = [Self.layout] }
        let importer = LackeyImporter(logs: [Self.log], options: options)
        return (try importer.events(), importer.summary)
    }

    func testRealTrueLogImports() throws {
        let (events, summary) = try importTrue(layout: true)
        var counts: [String: Int] = [:]
        for e in events { counts[e.keyword, default: 0] += 1 }
        // Counted in the log with zcat | grep -c: 128167 `I  ` lines, 27976 ` L `, 10265 ` S `,
        // 1504 ` M ` (each M is an r and a w).
        XCTAssertEqual(counts["x"], 128_167)
        XCTAssertEqual(counts["r"], 27_976 + 1504)
        XCTAssertEqual(counts["w"], 10_265 + 1504)
        // One kw: exec's copy of arguments and environment into the 8 KiB stack segment.
        XCTAssertEqual(counts["kw"], 1)
        // The startup layout has 10 client segments: 4 of /usr/bin/true, 4 of ld.so, Valgrind's
        // trampoline page, the stack (plus the brk page, which is not mapped: brk never grows).
        // The log has 12 successful mmap calls, 4 mprotect, 1 munmap.
        XCTAssertEqual(counts["mmap"], 10 + 12)
        XCTAssertEqual(counts["mprotect"], 4)
        XCTAssertEqual(counts["munmap"], 1)
        // true, ld.so, lackey (the trampoline), vgpreload_core, ld.so.cache, libc.
        XCTAssertEqual(counts["file"], 6)
        XCTAssertEqual(counts["proc"], 1)
        XCTAssertEqual(counts["exit"], 1)
        XCTAssertEqual(events.count, 128_167 + 29_480 + 11_769 + 1 + 22 + 4 + 1 + 6 + 2)
        XCTAssertEqual(summary.inferredAccesses, 0)
        XCTAssertEqual(summary.unmappedAccesses, 0)
        XCTAssertEqual(summary.layoutsUsed, 1)
        XCTAssertTrue(summary.notes.isEmpty, "\(summary.notes)")
        XCTAssertEqual(Self.accessesOutsideMappings(events), 0)
    }

    func testRealTrueLogWithoutLayoutInfersEveryStartupMapping() throws {
        let (events, summary) = try importTrue(layout: false)
        XCTAssertEqual(summary.layoutsUsed, 0)
        XCTAssertGreaterThan(summary.inferredAccesses, 0)
        XCTAssertEqual(summary.inferredRegions.filter(\.stack).count, 1)
        XCTAssertEqual(summary.unmappedAccesses, 0)
        XCTAssertEqual(Self.accessesOutsideMappings(events), 0)
    }

    func testImportedTraceReadsBackThroughTheValidator() throws {
        let out = scratch.file("true.vmt.gz")
        var options = LackeyImportOptions()
        options.layoutPaths = [Self.layout]
        let summary = try LackeyImporter(logs: [Self.log], options: options).run(output: out)
        let back = try TraceReader.readAll(path: out)
        XCTAssertEqual(UInt64(back.count), summary.events)
        XCTAssertEqual(try importTrue(layout: true).0, back)
    }

    /// Walks the events keeping each process's mapped ranges (a `stack` mapping counts whole:
    /// it grows down into its range on demand) and counts accesses that touch a byte outside.
    static func accessesOutsideMappings(_ events: [TraceEvent]) -> Int {
        var maps: [UInt32: [(UInt64, UInt64)]] = [:]
        var outside = 0
        func remove(_ pid: UInt32, _ s: UInt64, _ e: UInt64) {
            maps[pid] = (maps[pid] ?? []).flatMap { r -> [(UInt64, UInt64)] in
                if r.1 <= s || r.0 >= e { return [r] }
                var pieces: [(UInt64, UInt64)] = []
                if r.0 < s { pieces.append((r.0, s)) }
                if r.1 > e { pieces.append((e, r.1)) }
                return pieces
            }
        }
        func mapped(_ pid: UInt32, _ a: UInt64) -> Bool {
            (maps[pid] ?? []).contains { $0.0 <= a && a < $0.1 }
        }
        for e in events {
            switch e {
            case .proc(let pid, _), .exec(let pid):
                maps[pid] = []
            case .fork(let parent, let child):
                maps[child] = maps[parent]
            case .mmap(let m):
                remove(m.pid, m.address, m.address + m.length)
                maps[m.pid, default: []].append((m.address, m.address + m.length))
            case .munmap(let pid, let a, let l):
                remove(pid, a, a + l)
            case .access(let a):
                let last = a.address + UInt64(a.size) - 1
                if !mapped(a.pid, a.address) || !mapped(a.pid, last) { outside += 1 }
            default:
                break
            }
        }
        return outside
    }
}
