// The project's own regression suite: every golden under traces/expected/ is checked against a
// replay of its trace in traces/, exactly as `vmreplay check` does. A change in any
// deterministic counter of any sample fails here (update goldens with scripts/update-goldens.sh
// after an intended change, and say why in the commit).
import Foundation
import VMReplay
import VMTrace
import XCTest

final class TraceRegressionTests: XCTestCase {
    static let tracesDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("traces")

    func testEverySampleTraceMatchesItsGolden() throws {
        let expected = Self.tracesDirectory.appendingPathComponent("expected")
        let goldens = try FileManager.default.contentsOfDirectory(atPath: expected.path)
            .filter { $0.hasSuffix(".json") }.sorted()
        XCTAssertFalse(goldens.isEmpty, "no goldens under traces/expected")
        for name in goldens {
            let goldenPath = expected.appendingPathComponent(name).path
            let golden = try Golden(json: String(contentsOfFile: goldenPath, encoding: .utf8), file: goldenPath)
            let tracePath = Self.tracesDirectory.appendingPathComponent(golden.traceName).path
            var config = try Setting.configuration(golden.settings.map { ($0.name, $0.value) }, base: ReplayConfiguration())
            config.physicalMemory = golden.physicalMemory
            config.swap = golden.swap
            let report = try ReplayDriver.run(path: tracePath, configuration: config).0
            let outcome = GoldenCheck.compare(golden: golden, report: report,
                                              actualChecksum: try TraceChecksum.of(path: tracePath))
            XCTAssertNil(outcome.traceMismatch, "\(name): \(outcome.traceMismatch ?? "")")
            XCTAssertTrue(outcome.differences.isEmpty, "\(name):\n\(outcome.renderDifferences())")
            XCTAssertGreaterThan(outcome.comparedKeys, 50, name)
        }
    }
}
