// Issue 16 item 5: an event the validator accepts but the kernel refuses is named like the
// trace layer's own errors, by text line or binary byte offset, on every path that prints it.
import Foundation
import VMReplay
import VMTrace
import XCTest

/// A 1 TiB resident file cannot fit in the default 64 GiB of RAM: the kernel refuses line 3.
let refusedFileTrace = "vmtrace 1\nproc 1\nfile 1 1024G resident\nr 1 0x1000 8\n"
/// Header 10 bytes + `proc 1` record (tag 02, PID 1, threads 1: 3 bytes) = the file record's offset.
let refusedFileRecordOffset = 13
let refusal = "out of simulated memory: file 1 (268435456 pages) cannot be all resident"

extension CLITests {
    /// The text trace and its binary and gzip-binary conversions.
    func refusedTraces() throws -> (text: String, binary: String, gzip: String) {
        let text = tempDir.appendingPathComponent("refused.vmtrace").path
        try refusedFileTrace.write(toFile: text, atomically: true, encoding: .utf8)
        let binary = tempDir.appendingPathComponent("refused.vmt").path
        let gzip = tempDir.appendingPathComponent("refused.vmt.gz").path
        XCTAssertEqual(try run(["convert", text, binary]).0, 0)
        XCTAssertEqual(try run(["convert", text, gzip]).0, 0)
        return (text, binary, gzip)
    }

    func testKernelRefusalNamesTheLineOrByteOffset() throws {
        let (text, binary, gzip) = try refusedTraces()
        let expected = [
            text: "vmreplay: \(text):3: \(refusal)",
            binary: "vmreplay: \(binary): byte \(refusedFileRecordOffset): \(refusal)",
            gzip: "vmreplay: \(gzip): byte \(refusedFileRecordOffset): \(refusal)",
        ]
        for (path, prefix) in expected {
            // Event 2 (the file line; the header is no event), given as context for binary only.
            let suffix = path == text ? "(--phys-mem)\n"
                : path == binary ? "(--phys-mem) (event 2)\n"
                : "(--phys-mem) (event 2) (offset in the decompressed data)\n"
            for command in [["replay", path], ["replay", path, "--window", "1"],
                            ["sweep", path, "-s", "vm.prefault_pages=0,8"]]
            {
                let (status, _, err) = try run(command)
                XCTAssertEqual(status, 65, "\(command)")
                XCTAssertTrue(err.hasPrefix(prefix) && err.hasSuffix(suffix), "\(command): \(err)")
            }
            let golden = tempDir.appendingPathComponent("golden.json").path
            let (status, _, err) = try run(["check", path, "--expect", golden, "--update"])
            XCTAssertEqual(status, 65)
            XCTAssertTrue(err.hasPrefix(prefix), err)
        }
    }

    func testKeepGoingSkipsTheRefusalEverywhere() throws {
        let (text, _, gzip) = try refusedTraces()
        for (path, location) in [(text, "\(text):3: "), (gzip, "\(gzip): byte \(refusedFileRecordOffset): ")] {
            for command in [["replay", path], ["replay", path, "--window", "1"]] {
                // Text format: --window prints no sysctl form.
                let (status, out, err) = try run(command + ["--keep-going"])
                XCTAssertEqual(status, 0, err)
                XCTAssertTrue(err.hasPrefix("vmreplay: \(location)\(refusal)") && err.contains("(skipped)\n"), err)
                XCTAssertNotNil(out.range(of: #"\n +replay\.skipped_events +1\n"#, options: .regularExpression), out) // the file line
                XCTAssertNotNil(out.range(of: #"\n +trap\.page_faults +1\n"#, options: .regularExpression), out) // the read still runs (zero-fill)
            }
            // Every setting of a sweep skips it too (it stopped the sweep before).
            let (status, out, err) = try run(["sweep", path, "-s", "vm.prefault_pages=0,8", "--keep-going",
                                              "--format", "csv"])
            XCTAssertEqual(status, 0, err)
            XCTAssertTrue(err.hasPrefix("vmreplay: \(location)\(refusal)"), err)
            XCTAssertTrue(err.contains("skipped 1 bad event"), err)
            let rows = out.split(separator: "\n").map { $0.split(separator: ",", omittingEmptySubsequences: false) }
            let column = try XCTUnwrap(rows.first?.firstIndex(of: "replay.skipped_events"))
            XCTAssertEqual(rows.dropFirst().map { String($0[column]) }, ["1", "1"])
        }
    }
}

final class RefusalLocationTests: XCTestCase {
    /// Events applied without a location (the library's `apply([TraceEvent])`) keep the
    /// event-number form; the same events read from a file are located by the batch.
    func testLocationComesFromTheBatch() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("refused-\(UUID().uuidString).vmtrace").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try refusedFileTrace.write(toFile: path, atomically: true, encoding: .utf8)
        let events = try TraceReader.readAll(path: path)
        XCTAssertThrowsError(try Replayer(ReplayConfiguration()).apply(events)) { error in
            let refused = error as? ReplayError
            XCTAssertEqual(refused?.location, TraceError.Location.none)
            XCTAssertTrue(refused?.description.hasPrefix("event 2: \(refusal)") == true, "\(error)")
        }
        let reader = try TraceReader(path: path)
        var batch = ReplayBatch()
        XCTAssertTrue(try reader.nextBatch(into: &batch))
        // proc (line 2) and file (line 3) are others; the read is packed and has no location.
        XCTAssertEqual(batch.otherLocations, [.line(2), .line(3)])
        XCTAssertEqual(batch.location(at: 2), TraceError.Location.none)
        XCTAssertThrowsError(try Replayer(ReplayConfiguration()).apply(batch)) { error in
            let refused = error as? ReplayError
            XCTAssertEqual(refused?.location, .line(3))
            XCTAssertEqual(refused.map(reader.dataError)?.description.hasPrefix("vmreplay: \(path):3: \(refusal)"), true)
        }
    }
}
