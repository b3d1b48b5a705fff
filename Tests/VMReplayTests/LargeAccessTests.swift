// Every access the validator accepts reaches the kernel, whatever its size: accesses of
// 16 MiB or more do not fit a packed record (PackedEvent.sizeLimit) and travel in the batch's
// side array; the replay, the sweep and the decode-only pass must apply or count them like any
// other (issue 16, item 1: they were silently dropped).
import Foundation
import VMKernel
@testable import VMReplay
@testable import VMTrace
import XCTest

final class LargeAccessTests: XCTestCase {
    var tempDir: URL!

    override func setUpWithError() throws {
        tempDir = FileManager.default.temporaryDirectory.appendingPathComponent("vmreplay-large-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: tempDir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: tempDir)
    }

    /// `text` as a text trace and as a binary one.
    func bothEncodings(_ name: String, _ text: String) throws -> [String] {
        let textPath = tempDir.appendingPathComponent("\(name).vmtrace").path
        try text.write(toFile: textPath, atomically: true, encoding: .utf8)
        let binaryPath = tempDir.appendingPathComponent("\(name).vmt.gz").path
        let writer = try TraceWriter(path: binaryPath)
        try writer.write(contentsOf: try TraceReader.readAll(path: textPath))
        try writer.finish()
        return [textPath, binaryPath]
    }

    func deterministic(_ r: Report) -> [String: String] {
        var d: [String: String] = [:]
        for (k, v) in r.entries where !k.hasSuffix("_seconds") && !k.hasSuffix("_per_second") && k != "replay.skipped_events" {
            d[k] = "\(v)"
        }
        return d
    }

    func value(_ report: Report, _ key: String) -> String {
        report.entries.first { $0.0 == key }.map { "\($0.1)" } ?? "missing"
    }

    func testSixteenMebibyteWriteFaultsEveryPage() throws {
        for size in [16_777_215, 16_777_216, 16_777_217] {
            let trace = """
            vmtrace 1
            proc 1
            mmap 1 0x10000000 4G rw- private anon
            w 1 0x10000000 \(size)

            """
            for path in try bothEncodings("w\(size)", trace) {
                let report = try ReplayDriver.run(path: path, configuration: ReplayConfiguration()).0
                // 16 MiB from a page boundary spans 4,096 pages, one byte more spans 4,097; a
                // write to fresh anonymous memory prefaults nothing (vm_prefault_quick finds no
                // neighbour), so each page traps once.
                let pages = size > 16_777_216 ? 4097 : 4096
                XCTAssertEqual(value(report, "trap.page_faults"), "\(pages)", "\(size) bytes, \(path)")
                XCTAssertEqual(value(report, "replay.accesses"), "1", "\(size) bytes, \(path)")
                let decoded = try ReplayDriver.decodeOnly(path: path)
                XCTAssertEqual(value(decoded, "replay.accesses"), "1", "decode-only, \(size) bytes, \(path)")
            }
        }
    }

    /// Every access kind at every size class the format accepts (up to 2^32-1), packed and
    /// event by event: the same report, and every access counted by the kernel.
    func testEveryKindAndSizeReachesTheKernel() throws {
        let sizes: [UInt64] = [1, 4096, 0xFF_FFFF, 0x100_0000, 0x100_0001]
        var lines = ["vmtrace 1", "proc 1", "mmap 1 0x10000000 64M rwx private anon",
                     "mmap 1 0x200000000 64K rwx private anon"]
        var accesses = 0
        for size in sizes {
            for kind in ["r", "w", "x", "kr", "kw"] {
                lines.append("\(kind) 1 0x10000000 \(size)")
                accesses += 1
            }
        }
        // The largest size, once (the engine visits each of its 2^20 pages: 3 s in a debug
        // build): it runs off a 64K mapping, so the kernel faults 16 pages and counts EFAULTs.
        lines.append("kr 1 0x200000000 4294967295")
        accesses += 1
        lines += ["peek 1 0x10000000", "poke 1 0x10000000"]
        accesses += 2
        // A non-access event between large ones: the side array keeps their order.
        lines += ["mprotect 1 0x10000000 64M r--", "r 1 0x10000000 16777216"]
        let trace = lines.joined(separator: "\n") + "\n"
        for path in try bothEncodings("kinds", trace) {
            let report = try ReplayDriver.run(path: path, configuration: ReplayConfiguration()).0
            let replayer = try Replayer(ReplayConfiguration())
            var failed: ReplayError?
            for event in try TraceReader.readAll(path: path) {
                do { try replayer.apply(event) } catch { failed = error; break }
            }
            XCTAssertNil(failed, path)
            XCTAssertEqual(value(report, "replay.accesses"), "\(accesses + 1)", path)
            XCTAssertEqual(deterministic(report), deterministic(replayer.finish()), path)
            // copyin stops at the first page past the 64K mapping (pcb_onfault returns EFAULT; the
            // rest of the access is abandoned, SPEC §1): one EFAULT, not one per page.
            XCTAssertEqual(value(report, "trap.copy_efault"), "1", path)
        }
    }
}
