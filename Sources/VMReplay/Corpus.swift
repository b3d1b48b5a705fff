// A corpus: the traces one sweep or check runs over, named on the command line as files,
// directories (their trace files, not recursively) or `@list.txt` files (one path a line).
// The corpus is put in a canonical order (name, then checksum) so that the work list, and with
// it every shard, is the same whatever order the arguments came in.
import Foundation
import VMTrace

/// One trace of a corpus: where it is, the name rows show, and its identity.
public struct CorpusTrace: Equatable, Sendable {
    public var path: String
    /// The file's base name (`ls.vmt.gz`).
    public var name: String
    public var checksum: TraceChecksum

    public init(path: String, name: String, checksum: TraceChecksum) {
        self.path = path
        self.name = name
        self.checksum = checksum
    }

    /// Name and checksum: what a partial result records and a merge compares.
    public var identity: String { "\(name) \(checksum)" }

    /// The name without its trace suffix (`ls.vmt.gz` -> `ls`), for golden file names.
    public var stem: String {
        for suffix in Corpus.traceSuffixes.sorted(by: { $0.count > $1.count }) where name.hasSuffix(suffix) {
            return String(name.dropLast(suffix.count))
        }
        return name
    }
}

public enum Corpus {
    /// File names a directory contributes; anything else in it (README, goldens) is skipped.
    public static let traceSuffixes = [".vmt", ".vmt.gz", ".vmtrace", ".vmtrace.gz", ".txt", ".txt.gz"]

    /// Whether the arguments name a corpus rather than one trace file: several arguments, a
    /// directory or an @list.
    public static func isCorpus(_ arguments: [String]) -> Bool {
        guard arguments.count == 1, let only = arguments.first else { return true }
        if only.hasPrefix("@") { return true }
        var isDirectory: ObjCBool = false
        return FileManager.default.fileExists(atPath: only, isDirectory: &isDirectory) && isDirectory.boolValue
    }

    /// The trace paths the arguments name, in argument order.
    public static func expand(_ arguments: [String]) throws -> [String] {
        var paths: [String] = []
        for argument in arguments {
            if argument.hasPrefix("@") {
                let list = String(argument.dropFirst())
                guard let data = FileManager.default.contents(atPath: list) else {
                    throw TraceError(.noInput, file: list, "cannot read the trace list")
                }
                // Relative paths in a list are relative to the list's directory.
                let base = (list as NSString).deletingLastPathComponent
                for raw in String(decoding: data, as: UTF8.self).split(whereSeparator: \.isNewline) {
                    let line = raw.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false)[0]
                        .trimmingCharacters(in: .whitespaces)
                    guard !line.isEmpty else { continue }
                    paths.append(line.hasPrefix("/") || base.isEmpty ? line : base + "/" + line)
                }
                continue
            }
            guard argument != "-" else {
                throw TraceError(.usage, "a corpus cannot read standard input (-); name the trace files")
            }
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: argument, isDirectory: &isDirectory) else {
                throw TraceError(.noInput, file: argument, "no such trace file or directory")
            }
            if isDirectory.boolValue {
                let names = (try? FileManager.default.contentsOfDirectory(atPath: argument)) ?? []
                let traces = names.filter { n in traceSuffixes.contains { n.hasSuffix($0) } }.sorted()
                guard !traces.isEmpty else {
                    throw TraceError(.noInput, file: argument, "the directory holds no trace files (\(traceSuffixes.joined(separator: ", ")))")
                }
                paths += traces.map { (argument.hasSuffix("/") ? argument : argument + "/") + $0 }
            } else {
                paths.append(argument)
            }
        }
        return paths
    }

    /// The corpus the arguments name, checksummed, in canonical order (name, CRC-32, size).
    /// The same trace twice is a usage error.
    public static func resolve(_ arguments: [String]) throws -> [CorpusTrace] {
        let paths = try expand(arguments)
        guard !paths.isEmpty else { throw TraceError(.usage, "no traces given") }
        var traces: [CorpusTrace] = []
        for path in paths {
            let name = path.split(separator: "/").last.map(String.init) ?? path
            traces.append(CorpusTrace(path: path, name: name, checksum: try TraceChecksum.of(path: path)))
        }
        traces.sort { a, b in
            (a.name, a.checksum.crc32, a.checksum.bytes, a.path) < (b.name, b.checksum.crc32, b.checksum.bytes, b.path)
        }
        for (a, b) in zip(traces, traces.dropFirst()) where a.identity == b.identity {
            throw TraceError(.usage, "\(a.path) and \(b.path) are the same trace (\(a.identity)); give it once")
        }
        return traces
    }
}

/// A 64-bit FNV-1a hash in hex: the identity of a work list, recorded in partial results.
func studyHash(_ text: String) -> String {
    var h: UInt64 = 0xcbf2_9ce4_8422_2325
    for b in text.utf8 {
        h ^= UInt64(b)
        h = h &* 0x100_0000_01b3
    }
    let hex = String(h, radix: 16)
    return String(repeating: "0", count: 16 - hex.count) + hex
}
