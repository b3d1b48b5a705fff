// `replay --html` / `sweep --html`: one file that needs nothing else, rendered by a real browser
// (Debian's chromium, headless; scripts/test.sh installs it) without a console error.
import Foundation
import VMReplay
import VMTrace
import XCTest

final class HTMLReportTests: XCTestCase {
    var tempDir: URL!

    override func setUpWithError() throws {
        tempDir = FileManager.default.temporaryDirectory.appendingPathComponent("vmreplay-html-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: tempDir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: tempDir)
    }

    /// The replay page and the sweep page of a sample trace, and the replay's timeline SVG.
    func pages() throws -> (replay: String, sweep: String, timeline: String) {
        let path = TraceRegressionTests.tracesDirectory.appendingPathComponent("synthetic.vmt.gz").path
        var recorder: InsightRecorder?
        let report = try ReplayDriver.run(path: path, configuration: ReplayConfiguration(), prepare: {
            recorder = InsightRecorder(replayer: $0, attribute: true, timelineWindows: 200)
        }).0
        let (tables, timeline) = try XCTUnwrap(recorder).finish(report: report)
        let replay = HTMLReport.replay(report, table: tables[.mapping]?.limited(to: 40), timeline: timeline, title: "synthetic.vmt.gz")
        var recorders: [Int: InsightRecorder] = [:]
        let sweep = try SweepDriver.run(path: path, settings: [try Setting(parsing: "vm.prefault_pages=0,8")], base: ReplayConfiguration(),
                                        prepare: { recorders[$0] = InsightRecorder(replayer: $1, attribute: false, timelineWindows: 200) })
        let timelines = try sweep.rows.indices.map { try XCTUnwrap(recorders[$0]?.finish(report: sweep.rows[$0].report).timeline) }
        return (replay, HTMLReport.sweep(sweep, timelines: timelines, title: "synthetic.vmt.gz"),
                try XCTUnwrap(timeline).renderSVG(title: "timeline"))
    }

    func testPagesNeedNothingElse() throws {
        let (replay, sweep, _) = try pages()
        for page in [replay, sweep] {
            XCTAssertTrue(page.hasPrefix("<!DOCTYPE html>"))
            XCTAssertFalse(page.contains("<script"), "no script")
            XCTAssertFalse(page.contains("url("), "no CSS fetch")
            XCTAssertFalse(page.contains(" src="), "no embedded resource")
            // The only link is the empty data: icon that keeps a browser from asking for /favicon.ico.
            XCTAssertEqual(page.components(separatedBy: "href=").count - 1, 1)
            // "http" only as the SVG namespace, which is a name, not a fetch.
            XCTAssertEqual(page.components(separatedBy: "http").count - 1, page.components(separatedBy: "http://www.w3.org/2000/svg").count - 1)
        }
        XCTAssertTrue(replay.contains("Where the faults come from (by mapping)"))
        XCTAssertTrue(sweep.contains("Traps over the trace, per setting"))
    }

    func testPagesRenderInHeadlessChromium() throws {
        guard let browser = ["/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"]
            .first(where: { FileManager.default.isExecutableFile(atPath: $0) })
        else { throw XCTSkip("no chromium (scripts/test.sh installs Debian's)") }
        let (replay, sweep, timeline) = try pages()
        for (name, text, expected) in [("replay.html", replay, "Where the faults come from"), ("sweep.html", sweep, "Settings compared"),
                                       ("timeline.svg", timeline, "prefault-served")]
        {
            let file = tempDir.appendingPathComponent(name)
            try text.write(to: file, atomically: true, encoding: .utf8)
            let (status, dom, log) = try run(browser, ["--headless", "--no-sandbox", "--disable-gpu", "--enable-logging=stderr", "--v=0",
                                                       "--user-data-dir=" + tempDir.appendingPathComponent("profile-\(name)").path,
                                                       "--dump-dom", file.absoluteString])
            XCTAssertEqual(status, 0, "\(name): \(log)")
            XCTAssertTrue(dom.contains(expected), "\(name): the rendered DOM lacks \(expected)")
            XCTAssertFalse(log.contains(":CONSOLE"), "\(name): console messages:\n\(log)")
            // An SVG that is not well-formed XML renders as Chromium's parser-error page.
            XCTAssertFalse(dom.contains("This page contains the following errors"), "\(name): not well-formed")
        }
        // And it paints: a screenshot of the replay page.
        let shot = tempDir.appendingPathComponent("replay.png")
        let (status, _, log) = try run(browser, ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--window-size=1280,1600",
                                                 "--user-data-dir=" + tempDir.appendingPathComponent("profile-shot").path,
                                                 "--screenshot=" + shot.path, tempDir.appendingPathComponent("replay.html").absoluteString])
        XCTAssertEqual(status, 0, log)
        let size = (try? FileManager.default.attributesOfItem(atPath: shot.path)[.size] as? Int) ?? 0
        XCTAssertGreaterThan(size ?? 0, 20_000, "the screenshot is (nearly) blank")
    }

    /// Runs `tool` with a two-minute limit; returns (status, stdout, stderr).
    func run(_ tool: String, _ args: [String]) throws -> (Int32, String, String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/timeout")
        p.arguments = ["120", tool] + args
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        // Drain stderr on its own thread so that neither pipe fills while the other is read.
        // The reading thread owns the box until group.wait() returns.
        final class Box: @unchecked Sendable { var data = Data() }
        let errBox = Box()
        let group = DispatchGroup()
        group.enter()
        DispatchQueue.global().async {
            errBox.data = err.fileHandleForReading.readDataToEndOfFile()
            group.leave()
        }
        let o = out.fileHandleForReading.readDataToEndOfFile()
        group.wait()
        let errData = errBox.data
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: o, as: UTF8.self), String(decoding: errData, as: UTF8.self))
    }
}
