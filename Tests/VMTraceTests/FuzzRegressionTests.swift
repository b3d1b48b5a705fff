// Replays the inputs under Fuzz/regressions/ that once broke a fuzz target (docs/fuzzing.md),
// checking the target's properties again:
//   text/, binary/, binary-gzip/: trace files as the reader sees them. Each either fails with a
//     data error (exit 65) or decodes; what decodes decodes the same with --keep-going and
//     round-trips through the writers (text only when the paths allow text).
//   lackey/CASE/: Lackey logs (lk.*.log), an optional Valgrind stderr (valgrind-stderr.txt)
//     and optional options.txt (words: merge, resident, keep-going). The import either fails
//     with exit 65 or yields events that round-trip.
//   replay/: text traces whose first line is `# vmreplay-fuzz: OPTIONS`; the built `vmreplay
//     replay FILE --check-invariants --invariant-interval 1 OPTIONS` must succeed (exit 0).
import Foundation
import XCTest
@testable import VMTrace
@testable import VMTraceLackey

final class FuzzRegressionTests: TraceTestCase {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Fuzz/regressions")

    private func cases(_ kind: String) -> [URL] {
        let dir = Self.root.appendingPathComponent(kind)
        let names = (try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []
        return names.filter { !$0.hasPrefix(".") }.sorted().map { dir.appendingPathComponent($0) }
    }

    /// The events of `path`, or the error it must end with (a TraceError of exit code 65).
    private func decode(_ path: String, keepGoing: Bool, _ label: String) throws -> [TraceEvent]? {
        do {
            return try TraceReader.readAll(path: path, options: .init(keepGoing: keepGoing))
        } catch let error as TraceError {
            XCTAssertEqual(error.exitCode, 65, "\(label): \(error)")
            return nil
        }
    }

    /// `fromText`: the events came from a text trace, so they must also go back to text.
    private func assertRoundTrip(_ events: [TraceEvent], _ label: String, fromText: Bool = false) throws {
        let textOK = fromText || !events.contains { $0.textProblem != nil }
        for name in textOK ? ["rt.txt", "rt.vmt", "rt.vmt.gz"] : ["rt.vmt", "rt.vmt.gz"] {
            let path = scratch.file(name)
            let writer = try TraceWriter(path: path)
            try writer.write(contentsOf: events)
            try writer.finish()
            XCTAssertEqual(try TraceReader.readAll(path: path), events, "\(label): \(name) round trip")
        }
    }

    func testDecoderRegressions() throws {
        XCTAssertFalse(cases("text").isEmpty, "no regression inputs under \(Self.root.path)")
        for kind in ["text", "binary", "binary-gzip"] {
            for file in cases(kind) {
                let label = "\(kind)/\(file.lastPathComponent)"
                let strict = try decode(file.path, keepGoing: false, label)
                let lenient = try decode(file.path, keepGoing: true, label + " (keep-going)")
                if let strict {
                    XCTAssertEqual(lenient, strict, "\(label): --keep-going changes a trace that decodes")
                }
                if let events = lenient ?? strict { try assertRoundTrip(events, label, fromText: kind == "text") }
            }
        }
    }

    func testLackeyRegressions() throws {
        for dir in cases("lackey") {
            let label = "lackey/\(dir.lastPathComponent)"
            let files = try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted()
            var options = LackeyImportOptions()
            if files.contains("valgrind-stderr.txt") {
                options.layoutPaths = [dir.appendingPathComponent("valgrind-stderr.txt").path]
            }
            if let words = try? String(contentsOf: dir.appendingPathComponent("options.txt"), encoding: .utf8) {
                options.merge = words.contains("merge")
                options.resident = words.contains("resident")
                options.keepGoing = words.contains("keep-going")
            }
            let logs = files.filter { $0.hasSuffix(".log") }.map { dir.appendingPathComponent($0).path }
            do {
                let events = try LackeyImporter(logs: logs, options: options).events()
                var validator = TraceValidator()
                if events.allSatisfy({ validator.check($0) == nil }) { try assertRoundTrip(events, label) }
            } catch let error as TraceError {
                XCTAssertEqual(error.exitCode, 65, "\(label): \(error)")
            }
        }
    }

    func testReplayRegressions() throws {
        let traces = cases("replay")
        guard !traces.isEmpty else { return }
        let candidates = [
            URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("vmreplay"),
            Bundle.main.bundleURL.appendingPathComponent("vmreplay"),
        ]
        guard let executable = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0.path) }) else {
            throw XCTSkip("vmreplay executable not found next to the test bundle")
        }
        for trace in traces {
            let text = try String(contentsOf: trace, encoding: .utf8)
            let first = text.prefix { $0 != "\n" }
            let options = first.hasPrefix("# vmreplay-fuzz:")
                ? first.dropFirst("# vmreplay-fuzz:".count).split(separator: " ").map(String.init) : []
            let process = Process()
            process.executableURL = executable
            process.arguments = ["replay", trace.path, "--check-invariants", "--invariant-interval", "1",
                                 "--format", "sysctl", "--no-progress"] + options
            process.standardOutput = FileHandle.nullDevice
            let stderr = Pipe()
            process.standardError = stderr
            try process.run()
            let message = String(decoding: stderr.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            process.waitUntilExit()
            XCTAssertEqual(process.terminationStatus, 0, "replay/\(trace.lastPathComponent): \(message)")
        }
    }
}
