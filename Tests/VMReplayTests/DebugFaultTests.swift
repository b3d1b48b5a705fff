// vm.debug_fault=N prints the next N vm_fault_object results in the seed's own format
// (seed:663-669), on the console (stderr for the CLI).
import Foundation
import VMKernel
import VMReplay
import VMTrace
import XCTest

final class DebugFaultTests: XCTestCase {
    func testDebugFaultPrintsTheSeedsLineForTheFirstNResults() throws {
        // Worked example A: each write is a shared attempt (KERN_TRY_AGAIN) and an exclusive
        // retry (KERN_SUCCESS), so the first three lines are: 9, 0, 9.
        let path = Scenario.directory.appendingPathComponent("01-anon-two-writes.vmtrace").path
        var tunables = Tunables()
        try tunables.set("vm.debug_fault", to: 3)
        let replayer = try Replayer(ReplayConfiguration(tunables: tunables))
        var lines: [String] = []
        replayer.kernel.console = { lines.append($0) }
        try replayer.apply(try TraceReader.readAll(path: path))
        let report = replayer.finish()
        XCTAssertEqual(lines.count, 3)
        let pattern = #"^VM_FAULT result (\d+) addr=([0-9a-f]+) type=([0-9a-f]{2}) flags=([0-9a-f]{2}) fs\.m=0x[0-9a-f]+ fs\.prot=([0-9a-f]{2}) fs\.wflags=([0-9a-f]{2}) fs\.entry=0x[0-9a-f]+$"#
        let regex = try NSRegularExpression(pattern: pattern)
        var fields: [[String]] = []
        for line in lines {
            let range = NSRange(line.startIndex..., in: line)
            let match = try XCTUnwrap(regex.firstMatch(in: line, range: range), "not the seed's format: \(line)")
            fields.append((1...6).map { String(line[Range(match.range(at: $0), in: line)!]) })
        }
        // result: KERN_TRY_AGAIN (9), KERN_SUCCESS (0), then the second write's KERN_TRY_AGAIN.
        XCTAssertEqual(fields.map { $0[0] }, ["9", "0", "9"])
        XCTAssertEqual(fields.map { $0[1] }, ["10000000", "10000000", "10001000"])
        // type = VM_PROT_WRITE (02); flags = BURST|DIRTY|USERMODE = 0x4c (research §1).
        XCTAssertEqual(Set(fields.map { $0[2] }), ["02"])
        XCTAssertEqual(Set(fields.map { $0[3] }), ["4c"])
        // fs.prot = the entry's rw- (03) once resolved.
        XCTAssertEqual(fields[1][4], "03")
        // The tunable echoes its configured value, not the countdown.
        XCTAssertEqual(report["vm.debug_fault"]?.asInt, 3)
    }
}
