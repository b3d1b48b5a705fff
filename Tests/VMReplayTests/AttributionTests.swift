// Attribution (`replay --by`) and the timeline: every change of the counters lands on exactly one
// row and one window, and a mapping keeps its identity through clips, splits and forks.
import Foundation
import VMKernel
import VMReplay
import VMTrace
import XCTest

final class AttributionTests: XCTestCase {
    /// Replays `path` with a recorder; returns the report and what the recorder made.
    func replay(_ path: String, settings: [(String, Int64)] = [], windows: Int = 200)
        throws -> (Report, [AttributionGrouping: AttributionTable], Timeline)
    {
        let config = ReplayConfiguration(tunables: try Setting.tunables(settings))
        var recorder: InsightRecorder?
        let report = try ReplayDriver.run(path: path, configuration: config, prepare: {
            recorder = InsightRecorder(replayer: $0, attribute: true, timelineWindows: windows)
        }).0
        let (tables, timeline) = try XCTUnwrap(recorder).finish(report: report)
        return (report, tables, try XCTUnwrap(timeline))
    }

    func testEverySampleTraceSplitsExactlyIntoRowsAndWindows() throws {
        let dir = TraceRegressionTests.tracesDirectory
        let traces = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasSuffix(".vmt.gz") }.sorted()
        XCTAssertGreaterThanOrEqual(traces.count, 9)
        for name in traces {
            let (report, tables, timeline) = try replay(dir.appendingPathComponent(name).path)
            let totals = FaultTally.totals(of: report)
            XCTAssertGreaterThan(totals[.traps], 0, name)
            for (grouping, table) in tables {
                XCTAssertEqual(table.totals, totals, "\(name) by \(grouping): the rows' sums are not the report's totals")
                XCTAssertEqual(table.limited(to: 3).totals, totals, "\(name) by \(grouping) --top 3")
                // Every change reached a mapping or a process through the observer: none was
                // left for the end's catch-all row.
                XCTAssertFalse(table.rows.contains { $0.id.contains("(kernel)") }, "\(name) by \(grouping): unattributed counters")
            }
            XCTAssertEqual(timeline.total, totals, "\(name): the windows' sums are not the report's totals")
            let accesses = UInt64(report["replay.accesses"]?.asInt ?? 0)
            XCTAssertEqual(timeline.windows.first?.firstAccess, 0, name)
            XCTAssertEqual(timeline.windows.last?.endAccess, accesses, name)
            XCTAssertTrue((100...200).contains(timeline.windows.count), "\(name): \(timeline.windows.count) windows")
        }
    }

    /// A mapping clipped by mprotect and split by munmap is still one row; the fork's copy is a
    /// row of its own that names its parent; an access outside every mapping is the pid's.
    func testIdentitySurvivesClipSplitAndFork() throws {
        let trace = """
            vmtrace 1
            proc 1
            mmap 1 0x10000000 64K rw- private anon
            mmap 1 0x20000000 16K rw- private anon
            w 1 0x10000000
            w 1 0x10001000
            w 1 0x20000000
            mprotect 1 0x10008000 32K r--
            munmap 1 0x10004000 4K
            w 1 0x10002000
            fork 1 2
            w 2 0x10000000
            r 1 0x30000000

            """
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("attr-\(UUID().uuidString).txt").path
        try trace.write(toFile: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }
        // vm.prefault_pages=0: every page counted is the faulting one.
        let (_, tables, timeline) = try replay(path, settings: [("vm.prefault_pages", 0)], windows: 2)
        let byMapping = try XCTUnwrap(tables[.mapping])
        func row(_ id: String) throws -> FaultTally { try XCTUnwrap(byMapping.rows.first { $0.id == id }, id).tally }
        XCTAssertEqual(byMapping.rows.map(\.id), ["1:#2", "1:#3", "2:#2<1", "1:(no mapping)"])
        let a = try row("1:#2") // event 2 = the first mmap
        XCTAssertEqual(a[.traps], 3)    // three first writes, before and after the clip and the split
        XCTAssertEqual(a[.zfod], 3)     // each a zero-fill (seed:2045)
        XCTAssertEqual(a[.minflt], 6)   // soft faults count twice (seed:743,754)
        let b = try row("1:#3")
        XCTAssertEqual(b[.traps], 1)    // one write
        XCTAssertEqual(b[.zfod], 1)
        let copy = try row("2:#2<1")
        XCTAssertEqual(copy[.traps], 1)     // the child's write to its copy of A
        XCTAssertEqual(copy[.cowFaults], 1) // finds the page in the backing object and copies it (seed:2137)
        XCTAssertEqual(copy[.zfod], 0)
        XCTAssertEqual(copy[.minflt], 2)
        let nowhere = try row("1:(no mapping)")
        XCTAssertEqual(nowhere[.traps], 1)   // the read at 0x30000000
        XCTAssertEqual(nowhere[.sigsegv], 1) // no entry: SEGV_MAPERR
        XCTAssertEqual(nowhere[.vmFaults], 0) // v_vm_faults counts only successes (seed:741)
        XCTAssertEqual(byMapping.rows[2].identity.first { $0.name == "fork_of" }?.value, "1")

        let byProcess = try XCTUnwrap(tables[.process])
        XCTAssertEqual(byProcess.rows.map { $0.id }, ["1", "2"])
        XCTAssertEqual(byProcess.rows.map { $0.tally[.traps] }, [5, 1])
        let byObject = try XCTUnwrap(tables[.object])
        // A's anonymous memory and the child's copy of it are one object.
        XCTAssertEqual(byObject.rows.map(\.id), ["anon #2", "anon #3", "(no mapping)"])
        XCTAssertEqual(byObject.rows.map { $0.tally[.traps] }, [4, 1, 1])

        // 6 accesses in at most 2 windows: width 4 (index 5 / 2 is past the second window).
        XCTAssertEqual(timeline.windowWidth, 4)
        XCTAssertEqual(timeline.windows.map(\.endAccess), [4, 6])
        XCTAssertEqual(timeline.windows.map { $0.tally[.traps] }, [4, 2]) // 4 first writes; the COW and the SIGSEGV
        XCTAssertEqual(timeline.windows.map { $0.tally[.cowFaults] }, [0, 1])
        XCTAssertEqual(timeline.windows.map { $0.marks[.munmap] }, [1, 0]) // after the 3rd access
        XCTAssertEqual(timeline.windows.map { $0.marks[.fork] }, [0, 1])   // after the 4th
    }

    /// The timeline's memory is its window count: a long run of faults folds windows, never adds.
    func testTimelineFoldsToAFixedNumberOfWindows() throws {
        var lines = ["vmtrace 1", "proc 1", "mmap 1 0x10000000 4M rw- private anon"]
        for i in 0..<1000 { lines.append("w 1 0x\(String(0x1000_0000 + i * 4096, radix: 16))") }
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("tl-\(UUID().uuidString).txt").path
        try (lines.joined(separator: "\n") + "\n").write(toFile: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let (_, _, timeline) = try replay(path, settings: [("vm.prefault_pages", 0)], windows: 10)
        // 1000 accesses in at most 10 windows: the first power of two w with 999 / w < 10 is 128.
        XCTAssertEqual(timeline.windowWidth, 128)
        XCTAssertEqual(timeline.windows.count, 8) // ceil(1000 / 128)
        XCTAssertEqual(timeline.windows.map { $0.tally[.traps] }, [128, 128, 128, 128, 128, 128, 128, 104])
    }
}
