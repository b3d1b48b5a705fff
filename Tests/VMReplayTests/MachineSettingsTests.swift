// -s vmreplay.phys_mem / vmreplay.swap and sweep --phys-mem 32M,64M (issue 17).
import Foundation
@testable import VMReplay
import XCTest

final class MachineSettingsTests: XCTestCase {
    func testMachineSettingsParseAndApply() throws {
        let s = try Setting(parsing: "vmreplay.phys_mem=32M,64M")
        XCTAssertEqual(s.values, [32 << 20, 64 << 20])
        XCTAssertThrowsError(try Setting(parsing: "vmreplay.phys_mem=1M"))   // below the 4M the engine needs
        XCTAssertThrowsError(try Setting(parsing: "vmreplay.swap=-1"))
        let c = try Setting.configuration([("vmreplay.phys_mem", 8 << 20), ("vmreplay.swap", 1 << 30), ("vm.prefault_pages", 4)],
                                          base: ReplayConfiguration())
        XCTAssertEqual(c.physicalMemory, 8 << 20)
        XCTAssertEqual(c.swap, 1 << 30)
        XCTAssertEqual(c.tunables["vm.prefault_pages"], 4)
        // An unknown name lists the machine's settings with the tunables.
        XCTAssertThrowsError(try Setting(parsing: "vmreplay.phys_memory=8M")) { error in
            XCTAssertTrue(String(describing: error).contains("vmreplay.phys_mem, vmreplay.swap"), "\(error)")
        }
    }
}

extension CLITests {
    func testPhysMemIsASettingAndSweepsLikeOne() throws {
        let heap = Self.repository.appendingPathComponent("traces/gen-heap.vmt.gz").path
        func sysctl(_ args: [String]) throws -> [String: String] {
            let (status, out, err) = try run(["replay", heap, "--format", "sysctl"] + args)
            XCTAssertEqual(status, 0, err)
            return Dictionary(out.split(separator: "\n").map { line in
                let kv = line.split(separator: ":", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
                return (kv[0], kv.count > 1 ? kv[1] : "")
            }, uniquingKeysWith: { a, _ in a })
        }
        // The same machine by -s and by --phys-mem/--swap: the same counters (6M of memory
        // makes this 8 MiB heap page: swap-outs and major faults).
        var bySetting = try sysctl(["-s", "vmreplay.phys_mem=6M", "-s", "vmreplay.swap=64M"])
        var byOption = try sysctl(["--phys-mem", "6M", "--swap", "64M"])
        for key in ["replay.wall_seconds", "replay.events_per_second"] { bySetting[key] = nil; byOption[key] = nil }
        XCTAssertEqual(bySetting, byOption)
        XCTAssertEqual(bySetting["vmreplay.phys_mem"], "6291456")
        XCTAssertGreaterThan(Int(bySetting["vm.stats.vm.v_swapout"] ?? "") ?? 0, 0)
        // A sweep over memory sizes: each row is what the separate replay reports.
        let (status, csv, err) = try run(["sweep", heap, "--phys-mem", "6M,64M", "--swap", "64M", "--format", "csv"])
        XCTAssertEqual(status, 0, err)
        let rows = csv.split(separator: "\n").map { $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init) }
        XCTAssertEqual(rows.count, 3)
        let traps = try XCTUnwrap(rows[0].firstIndex(of: "trap.page_faults"))
        XCTAssertEqual(rows[1][traps], bySetting["trap.page_faults"])
        XCTAssertEqual(rows[2][traps], try sysctl(["--swap", "64M"])["trap.page_faults"])
        XCTAssertEqual(try run(["replay", heap, "--phys-mem", "6M,64M"]).0, 64)
        // The same size given both ways is a setting named twice.
        XCTAssertEqual(try run(["sweep", heap, "--phys-mem", "8M", "-s", "vmreplay.phys_mem=16M"]).0, 64)
    }
}
