// The machinery of the docs test (DocsTests.swift): README blocks that opt in with a marker are
// run and their shown output compared with the real one; every `--help` example is run.
//
// Markers are HTML comments on the line right before a fenced block (invisible on GitHub):
//
//   <!-- docs-test: transcript -->          `$ CMD` lines are run in order (one bash per block,
//                                           files persist across blocks); the lines after each
//                                           command are its expected output (stdout + stderr)
//   <!-- docs-test: output of CMD -->       the block is the expected output of CMD
//   <!-- docs-test: skip REASON -->         not run (say why)
//
// A block with `$ ` lines and no marker is an error, so a new example cannot silently escape.
// In expected output a line `...` stands for any number of lines, and the values of wall-clock
// keys (`replay.*_seconds`, `replay.*_per_second`) are not compared. A command that exits
// non-zero fails unless the next command is `echo $?` (which then shows the status).
import Foundation
import XCTest

struct DocBlock {
    enum Kind: Equatable {
        case transcript
        case outputOf(String)
        case skip
    }

    var line: Int
    var kind: Kind
    var lines: [String]

    /// A transcript's commands, each with the README line it is on and its expected output.
    var steps: [(line: Int, command: String, expected: [String])] {
        switch kind {
        case .skip: return []
        case .outputOf(let command): return [(line, command, lines)]
        case .transcript:
            var out: [(line: Int, command: String, expected: [String])] = []
            for (i, text) in lines.enumerated() {
                if text.hasPrefix("$ ") {
                    out.append((line + 1 + i, String(text.dropFirst(2)), []))
                } else if !out.isEmpty {
                    out[out.count - 1].expected.append(text)
                }
            }
            return out
        }
    }
}

enum DocsParser {
    static let markerPrefix = "<!-- docs-test:"

    /// The marked blocks of a Markdown text, and the problems: unmarked blocks with commands,
    /// markers not followed by a block, unknown markers.
    static func blocks(_ markdown: String) -> (blocks: [DocBlock], problems: [String]) {
        var blocks: [DocBlock] = []
        var problems: [String] = []
        var pending: (line: Int, kind: DocBlock.Kind)?
        var fence: (line: Int, lines: [String])?
        for (index, raw) in markdown.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let number = index + 1
            let text = String(raw)
            if var open = fence {
                if text.hasPrefix("```") {
                    if let marker = pending {
                        blocks.append(DocBlock(line: open.line, kind: marker.kind, lines: open.lines))
                    } else if open.lines.contains(where: { $0.hasPrefix("$ ") }) {
                        problems.append("README.md:\(open.line): a block with `$` commands has no `<!-- docs-test: ... -->` marker (transcript, output of CMD, or skip REASON)")
                    }
                    pending = nil
                    fence = nil
                } else {
                    open.lines.append(text)
                    fence = open
                }
                continue
            }
            if text.hasPrefix("```") {
                fence = (number, [])
                continue
            }
            if text.hasPrefix(markerPrefix) {
                if let p = pending { problems.append("README.md:\(p.line): docs-test marker not followed by a block") }
                guard let kind = parseMarker(text) else {
                    problems.append("README.md:\(number): unknown docs-test marker: \(text)")
                    continue
                }
                pending = (number, kind)
            } else if let p = pending, !text.trimmingCharacters(in: .whitespaces).isEmpty {
                problems.append("README.md:\(p.line): docs-test marker not followed by a block")
                pending = nil
            }
        }
        return (blocks, problems)
    }

    static func parseMarker(_ text: String) -> DocBlock.Kind? {
        guard text.hasSuffix("-->") else { return nil }
        let body = text.dropFirst(markerPrefix.count).dropLast(3).trimmingCharacters(in: .whitespaces)
        if body == "transcript" { return .transcript }
        if body.hasPrefix("output of ") { return .outputOf(String(body.dropFirst("output of ".count))) }
        if body.hasPrefix("skip") { return .skip }
        return nil
    }
}

enum DocsOutput {
    /// Wall-clock values vary from run to run: `replay.wall_seconds: 1.23` becomes `replay.wall_seconds: #`.
    static let wallClock = try! NSRegularExpression(
        pattern: #"(replay\.[a-z0-9_.]*(?:_seconds|_per_second)["]?[:,]?\s+)[-0-9.,e+]+"#)

    static func normalized(_ lines: [String]) -> [String] {
        var out = lines.map { line -> String in
            var s = line
            while s.last == " " { s.removeLast() }
            let range = NSRange(s.startIndex..., in: s)
            return wallClock.stringByReplacingMatches(in: s, range: range, withTemplate: "$1#")
        }
        while out.last?.isEmpty == true { out.removeLast() }
        return out
    }

    /// Whether `actual` matches `expected`, where an expected line `...` matches any run of lines.
    static func matches(_ expected: [String], _ actual: [String]) -> Bool {
        let e = normalized(expected), a = normalized(actual)
        // reach[j]: the first i expected lines can match the first j actual lines.
        var reach = [Bool](repeating: false, count: a.count + 1)
        reach[0] = true
        for line in e {
            var next = [Bool](repeating: false, count: a.count + 1)
            if line.trimmingCharacters(in: .whitespaces) == "..." {
                var any = false
                for j in 0...a.count {
                    any = any || reach[j]
                    next[j] = any
                }
            } else {
                for j in a.indices where reach[j] && a[j] == line { next[j + 1] = true }
            }
            reach = next
        }
        return reach[a.count]
    }
}

/// Runs shell commands one after the other in one bash, as a user at a prompt would.
struct DocsShell {
    var directory: URL
    var binDirectory: URL

    /// Each command's status and combined stdout + stderr.
    func run(_ commands: [String]) throws -> [(status: Int32, output: String)] {
        let scratch = directory.appendingPathComponent(".docs-test")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        var script = "cd \(quoted(directory.path))\nexport PATH=\(quoted(binDirectory.path)):\"$PATH\" LC_ALL=C COLUMNS=400\n(exit 0)\n"
        for (i, command) in commands.enumerated() {
            let out = quoted(scratch.appendingPathComponent("out.\(i)").path)
            let status = quoted(scratch.appendingPathComponent("status.\(i)").path)
            script += "{ \(command)\n} > \(out) 2>&1 < /dev/null; __s=$?; echo $__s > \(status); (exit $__s)\n"
        }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/bash")
        p.arguments = ["-c", script]
        p.standardInput = FileHandle.nullDevice
        try p.run()
        p.waitUntilExit()
        return try commands.indices.map { i in
            let output = try String(contentsOf: scratch.appendingPathComponent("out.\(i)"), encoding: .utf8)
            let statusText = try String(contentsOf: scratch.appendingPathComponent("status.\(i)"), encoding: .utf8)
            return (Int32(statusText.trimmingCharacters(in: .whitespacesAndNewlines)) ?? -1, output)
        }
    }

    func quoted(_ s: String) -> String { "'" + s.replacingOccurrences(of: "'", with: "'\\''") + "'" }
}

enum HelpExamples {
    /// The subcommands a `--help` text lists (`  name, alias   abstract`).
    static func subcommands(_ help: String) -> [String] {
        var out: [String] = []
        var inList = false
        for line in help.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("SUBCOMMANDS:") { inList = true; continue }
            guard inList else { continue }
            if line.isEmpty { break }
            guard line.hasPrefix("  "), !line.hasPrefix("   ") else { continue }
            let name = line.dropFirst(2).prefix { $0 != " " && $0 != "," }
            if !name.isEmpty && name != "help" { out.append(String(name)) }
        }
        return out
    }

    /// The commands of a help text's `Examples:` section: each example line up to a comment
    /// (two or more blanks), if it runs vmreplay and needs nothing else (record.sh needs Valgrind).
    static func examples(_ help: String) -> [String] {
        var out: [String] = []
        var inExamples = false
        for line in help.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasSuffix("Examples:") { inExamples = true; continue }
            guard inExamples else { continue }
            if line.isEmpty || !line.hasPrefix("  ") { inExamples = false; continue }
            let text = line.trimmingCharacters(in: .whitespaces)
            let command = text.range(of: "  ").map { String(text[..<$0.lowerBound]) } ?? text
            guard command.contains("vmreplay "), !command.hasPrefix("scripts/") else { continue }
            out.append(command)
        }
        return out
    }
}
