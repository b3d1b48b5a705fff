// Corpus sweeps and checks, shards and merge (docs/scale.md): the slicing rule by hand, and the
// command line end to end on the scenario traces.
import Foundation
import VMReplay
import VMTrace
import XCTest

final class ShardTests: XCTestCase {
    func testContiguousSlicesOfEqualCost() {
        // Four items of 100 bytes in two shards: midpoints 50, 150 | 250, 350 of 400.
        XCTAssertEqual(ShardSpec.assignment(costs: [100, 100, 100, 100], count: 2), [1, 1, 2, 2])
        // A 300-byte item is half the total: alone in shard 1 (midpoint 150 < 300), the
        // others (midpoints 350, 450, 550) in shard 2: 300 bytes each.
        XCTAssertEqual(ShardSpec.assignment(costs: [300, 100, 100, 100], count: 2), [1, 2, 2, 2])
        // More shards than items: shards 1 and 3 of 4 get nothing (midpoints at 1/4 and 3/4).
        XCTAssertEqual(ShardSpec.assignment(costs: [10, 10], count: 4), [2, 4])
        XCTAssertEqual(ShardSpec(index: 2, count: 2).items(costs: [300, 100, 100, 100]), [1, 2, 3])
    }

    func testShardSpecs() throws {
        XCTAssertEqual(try ShardSpec(parsing: "3/8"), ShardSpec(index: 3, count: 8))
        for bad in ["0/4", "5/4", "1/0", "a/b", "1", "1/2/3", "-1/2", ""] {
            XCTAssertThrowsError(try ShardSpec(parsing: bad), bad) { error in
                XCTAssertEqual((error as? TraceError)?.exitCode, 64, bad)
            }
        }
    }

    func testOrderedJSONKeepsKeyOrder() throws {
        let json = try XCTUnwrap(OrderedJSON.parse(#"{"z": 1, "a": [2, -3.5e2, "x\"\u00e9"], "m": {"b": true, "a": null}}"#))
        XCTAssertEqual(json.members?.map(\.key), ["z", "a", "m"])
        XCTAssertEqual(json["a"]?.array?[1], .number("-3.5e2"))
        XCTAssertEqual(json["a"]?.array?[2].string, "x\"é")
        XCTAssertEqual(json["m"]?.members?.map(\.key), ["b", "a"])
        XCTAssertNil(OrderedJSON.parse(#"{"a": 1} x"#))
        XCTAssertNil(OrderedJSON.parse(#"{"a": }"#))
    }
}

extension CLITests {
    var scenarioDirectory: String { Scenario.directory.path }

    /// The corpus sweep's arguments: every scenario trace x 4 settings.
    var corpusStudy: [String] {
        [scenarioDirectory, "-s", "vm.prefault_pages=0,8", "-s", "vm.fast_fault=0,1"]
    }

    func testCorpusSweepRowsCarryTraceAndChecksum() throws {
        let traces = try FileManager.default.contentsOfDirectory(atPath: scenarioDirectory).filter { $0.hasSuffix(".vmtrace") }
        let (status, csv, err) = try run(["sweep"] + corpusStudy + ["--format", "csv"])
        XCTAssertEqual(status, 0, err)
        let lines = csv.split(separator: "\n")
        XCTAssertEqual(lines.count, 1 + traces.count * 4)  // a header, 4 rows a trace
        XCTAssertTrue(lines[0].hasPrefix("trace,trace.crc32,trace.bytes,sweep.vm.prefault_pages,sweep.vm.fast_fault,status,"))
        // Traces in name order, settings in sweep order within each.
        let first = traces.sorted()[0]
        let size = try XCTUnwrap(FileManager.default.attributesOfItem(atPath: scenarioDirectory + "/" + first)[.size] as? Int)
        XCTAssertTrue(lines[1].hasPrefix("\(first),"))
        XCTAssertTrue(lines[1].contains(",\(size),0,0,ok,"))
        XCTAssertTrue(lines[4].contains(",\(size),8,1,ok,"))
    }

    func testCorpusPlotHasOneChartPerTrace() throws {
        let two = ["01-anon-two-writes", "03-fork-cow-both"].map { scenarioDirectory + "/" + $0 + ".vmtrace" }
        let svg = tempDir.appendingPathComponent("corpus.svg").path
        var (s, _, _) = try run(["sweep"] + two + ["-s", "vm.prefault_pages=0,8", "--plot", svg])
        XCTAssertEqual(s, 0)
        var text = try String(contentsOfFile: svg, encoding: .utf8)
        XCTAssertEqual(text.components(separatedBy: "<svg").count - 1, 3)  // the page and two charts
        XCTAssertEqual(text.components(separatedBy: "<g class=\"trace\"").count - 1, 2)
        (s, _, _) = try run(["sweep"] + two + ["-s", "vm.prefault_pages=0,8", "--plot", svg, "--plot-trace", "03-fork-cow-both"])
        XCTAssertEqual(s, 0)
        text = try String(contentsOfFile: svg, encoding: .utf8)
        XCTAssertEqual(text.components(separatedBy: "<svg").count - 1, 1)
        XCTAssertTrue(text.contains("vmreplay sweep: 03-fork-cow-both.vmtrace"))
        (s, _, _) = try run(["sweep"] + two + ["-s", "vm.prefault_pages=0,8", "--plot", svg, "--plot-trace", "nope"])
        XCTAssertEqual(s, 64)
    }

    func testListsDirectoriesAndFilesNameTheSameCorpus() throws {
        // A list with a comment, a blank line and paths relative to the list's directory.
        let names = ["03-fork-cow-both.vmtrace", "01-anon-two-writes.vmtrace"]
        let list = tempDir.appendingPathComponent("list.txt").path
        let relative = String(repeating: "../", count: tempDir.pathComponents.count - 1) + String(scenarioDirectory.dropFirst())
        try ("# two scenarios\n\n" + names.map { relative + "/" + $0 + "  # trailing comment" }.joined(separator: "\n") + "\n")
            .write(toFile: list, atomically: true, encoding: .utf8)
        let study = ["-s", "vm.prefault_pages=0,8", "--format", "csv"]
        let (s1, fromList, e1) = try run(["sweep", "@" + list] + study)
        XCTAssertEqual(s1, 0, e1)
        let (s2, fromFiles, _) = try run(["sweep"] + names.map { scenarioDirectory + "/" + $0 } + study)
        XCTAssertEqual(s2, 0)
        XCTAssertEqual(fromList, fromFiles)
        XCTAssertTrue(fromList.split(separator: "\n")[1].hasPrefix("01-anon-two-writes.vmtrace,"))  // name order
        // The same trace twice (here through the list and by name) is a usage error.
        let (s3, _, e3) = try run(["sweep", "@" + list, scenarioA] + study)
        XCTAssertEqual(s3, 64)
        XCTAssertTrue(e3.contains("are the same trace"), e3)
        let (s4, _, _) = try run(["sweep", tempDir.appendingPathComponent("nothing-here").path, scenarioA] + study)
        XCTAssertEqual(s4, 66)
    }

    func testShardsMergeToTheUnshardedOutputInEveryFormat() throws {
        for format in ["csv", "json", "text", "sysctl"] {
            let (status, whole, _) = try run(["sweep"] + corpusStudy + ["--format", format])
            XCTAssertEqual(status, 0)
            var parts: [String] = []
            for k in [3, 1, 2] {
                let part = tempDir.appendingPathComponent("\(format)-\(k).jsonl").path
                let (s, _, e) = try run(["sweep"] + corpusStudy + ["--format", format, "--shard", "\(k)/3", "-o", part])
                XCTAssertEqual(s, 0, e)
                parts.append(part)
            }
            let merged = tempDir.appendingPathComponent("merged.\(format)").path
            let (s, _, e) = try run(["merge"] + parts + ["-o", merged])
            XCTAssertEqual(s, 0, e)
            XCTAssertEqual(try String(contentsOfFile: merged, encoding: .utf8), whole, format)
        }
    }

    func testOneTraceShardsMergeToTheOneTraceSweep() throws {
        let study = [scenarioA, "-s", "vm.prefault_pages=0,8,16", "-s", "vm.fast_fault=0,1"]
        let (status, whole, _) = try run(["sweep"] + study)
        XCTAssertEqual(status, 0)
        XCTAssertTrue(whole.hasPrefix("vm.prefault_pages  vm.fast_fault  traps"))  // no trace column
        var parts: [String] = []
        for k in 1...2 {
            let part = tempDir.appendingPathComponent("one-\(k).jsonl").path
            XCTAssertEqual(try run(["sweep"] + study + ["--shard", "\(k)/2", "-o", part]).0, 0)
            parts.append(part)
        }
        let (s, merged, _) = try run(["merge"] + parts)
        XCTAssertEqual(s, 0)
        XCTAssertEqual(merged, whole)
        // A one-trace sweep under a budget it passes prints nothing, as on any engine error.
        let (b, out, err) = try run(["sweep"] + study + ["--max-memory", "64K"])
        XCTAssertEqual(b, 65)
        XCTAssertEqual(out, "")
        XCTAssertTrue(err.contains("01-anon-two-writes.vmtrace vm.prefault_pages=0 vm.fast_fault=0: failed: event 4: host memory estimate"), err)
    }

    func testShardsDoNotDependOnArgumentOrder() throws {
        let files = try FileManager.default.contentsOfDirectory(atPath: scenarioDirectory)
            .filter { $0.hasSuffix(".vmtrace") }.sorted().prefix(6).map { scenarioDirectory + "/" + $0 }
        let settings = ["-s", "vm.prefault_pages=0,4,8"]
        var outputs: [String] = []
        for order in [files, files.reversed(), files.shuffled()] {
            let (s, part, _) = try run(["sweep"] + order + settings + ["--shard", "2/3"])
            XCTAssertEqual(s, 0)
            outputs.append(part)
        }
        XCTAssertEqual(outputs[0], outputs[1])
        XCTAssertEqual(outputs[0], outputs[2])
    }

    func testMergeRefusesGapsOverlapsAndOtherStudies() throws {
        func part(_ k: Int, _ n: Int, _ args: [String] = []) throws -> String {
            let path = tempDir.appendingPathComponent("p\(k)of\(n)\(args.joined(separator: "_")).jsonl").path
            let (s, _, e) = try run(["sweep"] + corpusStudy + args + ["--shard", "\(k)/\(n)", "-o", path])
            XCTAssertEqual(s, 0, e)
            return path
        }
        let p1 = try part(1, 2), p2 = try part(2, 2)
        let foreign = try part(2, 2, ["-s", "vm.shared_fault=0"])
        let otherMemory = try part(2, 2, ["--phys-mem", "64M"])
        let out = tempDir.appendingPathComponent("out.txt").path
        let cases: [(String, [String], String)] = [
            ("gap", [p1], "gap:"),
            ("duplicate", [p1, p2, p1], "given twice"),
            ("foreign", [p1, foreign], "another study"),
            ("other replay options", [p1, otherMemory], "another study"),
        ]
        for (what, parts, message) in cases {
            let (s, _, e) = try run(["merge"] + parts + ["-o", out])
            XCTAssertEqual(s, 65, what)
            XCTAssertTrue(e.contains(message), "\(what): \(e)")
            XCTAssertFalse(FileManager.default.fileExists(atPath: out), what)
        }
        // A part cut short (the shard died while writing) is refused too.
        let text = try String(contentsOfFile: p2, encoding: .utf8)
        let cut = tempDir.appendingPathComponent("cut.jsonl").path
        try String(text.split(separator: "\n").dropLast().joined(separator: "\n") + "\n").write(toFile: cut, atomically: true, encoding: .utf8)
        let (s, _, e) = try run(["merge", p1, cut, "-o", out])
        XCTAssertEqual(s, 65)
        XCTAssertTrue(e.contains("truncated"), e)
        let (bad, _, _) = try run(["sweep"] + corpusStudy + ["--shard", "4/3"])
        XCTAssertEqual(bad, 64)
    }

    func testMemoryBudgetFailsOnlyTheEngineThatPassesIt() throws {
        // 20,000 writes to distinct pages of one mapping: after the first batch (16,384
        // events: proc, mmap and 16,382 writes) the engine holds 16,382 data frames plus its
        // page-table pages, about 1 MiB + 16,382 x 190 B = 4 MiB > 2 MiB. The scenario trace
        // never gets near it.
        var text = "vmtrace 1\nproc 1\nmmap 1 0x10000000 0x10000000 rw- private anon\n"
        for i in 0..<20_000 { text += "w 1 0x\(String(0x1000_0000 + i * 4096, radix: 16))\n" }
        let big = tempDir.appendingPathComponent("big.txt").path
        try text.write(toFile: big, atomically: true, encoding: .utf8)
        let (status, csv, err) = try run(["sweep", big, scenarioA, "-s", "vm.prefault_pages=8",
                                          "--max-memory", "2M", "--format", "csv"])
        XCTAssertEqual(status, 65)
        XCTAssertTrue(err.contains("big.txt vm.prefault_pages=8: failed: event 16384: host memory estimate"), err)
        XCTAssertTrue(err.contains("grown: page frames"), err)
        let rows = csv.split(separator: "\n")
        XCTAssertEqual(rows.count, 3)
        XCTAssertTrue(rows[1].hasPrefix("01-anon-two-writes.vmtrace,") && rows[1].contains(",8,ok,"), String(rows[1]))
        XCTAssertTrue(rows[2].hasPrefix("big.txt,") && rows[2].contains(",8,\"failed: event 16384"), String(rows[2]))
    }

    func testCorpusCheckUpdateCompareAndShards() throws {
        let goldens = tempDir.appendingPathComponent("expected").path
        try FileManager.default.createDirectory(atPath: goldens, withIntermediateDirectories: true)
        let traces = ["01-anon-two-writes", "03-fork-cow-both"].map { scenarioDirectory + "/" + $0 + ".vmtrace" }
        var (s, out, _) = try run(["check"] + traces + ["--expect-dir", goldens])
        XCTAssertEqual(s, 1)  // no goldens yet
        XCTAssertTrue(out.contains("2 missing"), out)
        (s, out, _) = try run(["check"] + traces + ["--expect-dir", goldens, "--update"])
        XCTAssertEqual(s, 0)
        (s, out, _) = try run(["check"] + traces + ["--expect-dir", goldens])
        XCTAssertEqual(s, 0)
        XCTAssertTrue(out.hasSuffix("vmreplay: 2 goldens: 2 ok\n"), out)
        // Worked example A makes two zero-fill faults; a golden claiming 3 differs by -1.
        let a = goldens + "/01-anon-two-writes.json"
        let golden = try String(contentsOfFile: a, encoding: .utf8)
        try golden.replacingOccurrences(of: "\"vm.stats.vm.v_zfod\": 2,", with: "\"vm.stats.vm.v_zfod\": 3,")
            .write(toFile: a, atomically: true, encoding: .utf8)
        (s, out, _) = try run(["check"] + traces + ["--expect-dir", goldens])
        XCTAssertEqual(s, 1)
        XCTAssertTrue(out.contains("vm.stats.vm.v_zfod       3       2     -1"), out)
        var parts: [String] = []
        for k in [2, 1] {
            let (ps, part, _) = try run(["check"] + traces + ["--expect-dir", goldens, "--shard", "\(k)/2"])
            XCTAssertEqual(ps, 0)  // the verdict is the merge's
            let path = tempDir.appendingPathComponent("check-\(k).jsonl").path
            try part.write(toFile: path, atomically: true, encoding: .utf8)
            parts.append(path)
        }
        let (ms, merged, _) = try run(["merge"] + parts)
        XCTAssertEqual(ms, 1)
        XCTAssertEqual(merged, out)
        // A shard checked with another -s belongs to another study.
        let (_, other, _) = try run(["check"] + traces + ["--expect-dir", goldens, "-s", "vm.prefault_pages=4", "--shard", "1/2"])
        let otherPath = tempDir.appendingPathComponent("check-other.jsonl").path
        try other.write(toFile: otherPath, atomically: true, encoding: .utf8)
        let (os, _, oe) = try run(["merge", otherPath, parts[0]])
        XCTAssertEqual(os, 65)
        XCTAssertTrue(oe.contains("another study"), oe)
    }
}
