// Docs that run (issue 17): every marked README block and every `--help` example, against the
// built binary. scripts/check-docs.sh runs just these.
import Foundation
import XCTest

extension CLITests {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()

    /// A working directory with the repository's traces/ (read-only use) and nothing else.
    func docsDirectory() throws -> URL {
        let dir = tempDir.appendingPathComponent("docs")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(at: dir.appendingPathComponent("traces"),
                                                   withDestinationURL: Self.repository.appendingPathComponent("traces"))
        return dir
    }

    func testReadmeTranscriptsMatchTheRealOutput() throws {
        let readme = try String(contentsOf: Self.repository.appendingPathComponent("README.md"), encoding: .utf8)
        let (blocks, problems) = DocsParser.blocks(readme)
        for p in problems { XCTFail(p) }
        XCTAssertGreaterThan(blocks.filter { $0.kind != .skip }.count, 5, "the README's examples lost their markers")
        let shell = DocsShell(directory: try docsDirectory(), binDirectory: try binary().deletingLastPathComponent())
        for block in blocks {
            let steps = block.steps
            guard !steps.isEmpty else { continue }
            // `$ cat FILE` of a file that does not exist yet shows the file the next commands use.
            for step in steps where step.command.hasPrefix("cat ") && !step.command.dropFirst(4).contains(" ") {
                let file = shell.directory.appendingPathComponent(String(step.command.dropFirst(4)))
                if !FileManager.default.fileExists(atPath: file.path) {
                    try (step.expected.joined(separator: "\n") + "\n").write(to: file, atomically: true, encoding: .utf8)
                }
            }
            let results = try shell.run(steps.map(\.command))
            for (i, (step, result)) in zip(steps, results).enumerated() {
                let checkedByNext = i + 1 < steps.count && steps[i + 1].command == "echo $?"
                if result.status != 0 && !checkedByNext {
                    XCTFail("README.md:\(step.line): `\(step.command)` exited \(result.status):\n\(result.output)")
                }
                let actual = result.output.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
                if !DocsOutput.matches(step.expected, actual) {
                    XCTFail("README.md:\(step.line): `\(step.command)` printed something else.\n--- README:\n"
                        + step.expected.joined(separator: "\n") + "\n--- real:\n" + result.output)
                }
            }
        }
    }

    func testEveryHelpExampleRuns() throws {
        let dir = try docsDirectory()
        let shell = DocsShell(directory: dir, binDirectory: try binary().deletingLastPathComponent())
        // The files the examples name: small traces, a golden, Lackey logs.
        let demo = "vmtrace 1\nproc 1\nmmap 1 0x10000000 64K rw- private anon\nw 1 0x10000000\nr 1 0x10001000\n"
        for name in ["trace.txt", "t.txt"] { try demo.write(to: dir.appendingPathComponent(name), atomically: true, encoding: .utf8) }
        try (demo + "bogus line\n").write(to: dir.appendingPathComponent("messy.txt"), atomically: true, encoding: .utf8)
        let lackey = Self.repository.appendingPathComponent("Tests/VMTraceTests/Fixtures/lackey")
        let setup = try shell.run([
            "vmreplay convert trace.txt trace.vmt.gz && cp trace.vmt.gz t.vmt.gz && cp trace.vmt.gz big.vmt.gz",
            "gzip -c trace.txt > trace.txt.gz && cp trace.txt.gz big.txt.gz",
            "vmreplay check t.vmt.gz --expect t.json --update -q",
            // Partial results for `vmreplay merge`'s examples.
            "vmreplay sweep trace.txt -s vm.prefault_pages=0,8 --shard 1/2 -o part-1.jsonl",
            "vmreplay sweep trace.txt -s vm.prefault_pages=0,8 --shard 2/2 -o part-2.jsonl",
            "mkdir -p expected && cp t.json expected/t.json",
            // Reports and sweep rows for `vmreplay diff`'s examples.
            "vmreplay sweep trace.txt -s vm.prefault_pages=0,1,2,4 --format json -o sweep.json",
            "vmreplay replay trace.txt --format json -o a.json && vmreplay replay trace.txt --format json -s vm.prefault_pages=0 -o b.json",
            "vmreplay check t.vmt.gz --expect-dir expected --shard 1/2 > check-1.jsonl",
            "vmreplay check t.vmt.gz --expect-dir expected --shard 2/2 > check-2.jsonl",
            "cp \(shell.quoted(lackey.appendingPathComponent("true.lk.log.gz").path)) lk.1234.1.log",
            "cp \(shell.quoted(lackey.appendingPathComponent("true.valgrind-stderr.txt").path)) vg-stderr.txt",
        ])
        for (i, r) in setup.enumerated() { XCTAssertEqual(r.status, 0, "setup step \(i): \(r.output)") }

        var paths: [[String]] = [[]]
        var examples: [(command: String, from: String)] = []
        while !paths.isEmpty {
            let path = paths.removeFirst()
            let help = try shell.run([(["vmreplay"] + path + ["--help"]).joined(separator: " ")])[0].output
            paths += HelpExamples.subcommands(help).map { path + [$0] }
            examples += HelpExamples.examples(help).map { ($0, (["vmreplay"] + path + ["--help"]).joined(separator: " ")) }
        }
        XCTAssertGreaterThan(examples.count, 20)
        let results = try shell.run(examples.map(\.command))
        // `diff` and `check` exit 1 for "they differ", which is what their examples show.
        for (example, result) in zip(examples, results)
        where result.status != 0 && !(result.status == 1 && (example.command.hasPrefix("vmreplay diff") || example.command.hasPrefix("vmreplay check"))) {
            XCTFail("`\(example.from)`: example `\(example.command)` exited \(result.status):\n\(result.output.prefix(2000))")
        }
    }
}
