// Partial results: what `--shard K/N` writes and `vmreplay merge` joins. JSON lines:
//   {"vmreplay_part": 1, "command": ..., "study": ..., "shard": "K/N", "items": TOTAL, ...}
//   {"item": I, "id": "<trace> <settings>", ...}        one per work item of the shard
//   {"vmreplay_part_end": COUNT}
// The study is a hash of the work list; a merge takes parts of one study only, each item
// exactly once, and every item of the list.
import Foundation
import VMTrace

public enum PartialResult {
    public static let version = 1

    /// The header line. `fields` are further `"key": value` members, already JSON.
    static func header(command: String, study: String, shard: ShardSpec, items: Int, fields: [String]) -> String {
        (["\"vmreplay_part\": \(version)", "\"command\": \"\(command)\"", "\"study\": \"\(study)\"",
          "\"shard\": \"\(shard)\"", "\"items\": \(items)"] + fields).joined(separator: ", ")
            .wrapped("{", "}\n")
    }

    static func itemLine(_ item: Int, id: String, body: String) -> String {
        "{\"item\": \(item), \"id\": \"\(jsonEscaped(id))\", \(body)}\n"
    }

    static func end(count: Int) -> String { "{\"vmreplay_part_end\": \(count)}\n" }

    /// One part file, read and checked on its own.
    public struct Part {
        public var path: String
        public var header: OrderedJSON
        public var study: String
        public var shard: String
        public var total: Int
        public var items: [(index: Int, line: OrderedJSON)]
    }

    /// Reads the parts in a file: one, or several one after another (the output of several
    /// shards concatenated, as GNU parallel collects them). Errors: 66 missing, 65 not
    /// complete parts.
    public static func read(_ path: String) throws -> [Part] {
        let data: Data?
        if path == "-" {
            data = try? FileHandle.standardInput.readToEnd() ?? Data()
        } else {
            data = FileManager.default.contents(atPath: path)
        }
        guard let data else { throw TraceError(.noInput, file: path, "cannot read the partial result") }
        let name = path == "-" ? "<stdin>" : path
        let lines = String(decoding: data, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false)
        func bad(_ line: Int, _ why: String) -> TraceError { TraceError(.dataError, file: name, at: .line(line), why) }
        var parts: [Part] = []
        var current: Part?
        for (n, text) in lines.enumerated() where !text.isEmpty {
            guard let line = OrderedJSON.parse(String(text)) else { throw bad(n + 1, "not JSON") }
            guard let part = current else {
                guard line["vmreplay_part"]?.int == Int64(version) else {
                    throw bad(n + 1, "not a vmreplay partial result (written by --shard K/N), or another version")
                }
                guard let study = line["study"]?.string, let shard = line["shard"]?.string,
                      let total = line["items"]?.int, total >= 0
                else { throw bad(n + 1, "the header lacks study, shard or items") }
                current = Part(path: name, header: line, study: study, shard: shard, total: Int(total), items: [])
                continue
            }
            if let count = line["vmreplay_part_end"]?.int {
                guard count == part.items.count else {
                    throw bad(n + 1, "the end line counts \(count) items, the part has \(part.items.count)")
                }
                parts.append(part)
                current = nil
                continue
            }
            guard let i = line["item"]?.int, i >= 0, i < part.total else {
                throw bad(n + 1, "no item number in 0..<\(part.total)")
            }
            current?.items.append((Int(i), line))
        }
        if let open = current { throw TraceError(.dataError, file: name, "truncated: shard \(open.shard) has no end line (did it finish?)") }
        guard !parts.isEmpty else { throw TraceError(.dataError, file: name, "empty: no partial result in it") }
        return parts
    }

    /// Reads the parts and joins their items: one study, every item exactly once. Returns the
    /// first part's header and the items in order. `describe` names an item for messages.
    public static func join(_ paths: [String], describe: (OrderedJSON, Int) -> String) throws -> (header: OrderedJSON, items: [OrderedJSON]) {
        guard !paths.isEmpty else { throw TraceError(.usage, "merge needs at least one partial result") }
        let parts = try paths.flatMap(read)
        let first = parts[0]
        var owner: [Int: String] = [:]
        var shards: [String: String] = [:]
        var items = [OrderedJSON?](repeating: nil, count: first.total)
        for part in parts {
            guard part.study == first.study, part.total == first.total,
                  part.header["command"] == first.header["command"]
            else {
                throw TraceError(.dataError, file: part.path,
                                 "from another study (\(part.study), \(part.total) items) than \(first.path) (\(first.study), \(first.total) items): the traces, settings, format or replay options differ")
            }
            if let other = shards[part.shard] {
                throw TraceError(.dataError, file: part.path, "shard \(part.shard) is given twice (also \(other))")
            }
            shards[part.shard] = part.path
            for (i, line) in part.items {
                if let other = owner[i] {
                    throw TraceError(.dataError, file: part.path,
                                     "overlap: item \(i) (\(describe(first.header, i))) is also in \(other)")
                }
                owner[i] = part.path
                items[i] = line
            }
        }
        let missing = items.indices.filter { items[$0] == nil }
        if let gap = missing.first {
            var message = "gap: \(missing.count) of \(first.total) items missing, the first item \(gap) (\(describe(first.header, gap)))"
            if let spec = try? ShardSpec(parsing: first.shard) {
                let have = shards.keys.sorted()
                message += "; parts given: \(have.joined(separator: ", ")) of \(spec.count)"
            }
            throw TraceError(.dataError, message)
        }
        return (first.header, items.compactMap { $0 })
    }
}

extension String {
    func wrapped(_ open: String, _ close: String) -> String { open + self + close }
}

extension Report {
    /// A report from a flat JSON object as `renderJSON` writes it (key order kept).
    init?(json: OrderedJSON) {
        guard let members = json.members else { return nil }
        self.init()
        for (key, value) in members {
            // `proc.PID.comm` is the one string a report carries (Report.processNames).
            if case .string(let name) = value {
                let parts = key.split(separator: ".")
                guard parts.count == 3, parts[0] == "proc", parts[2] == "comm", let pid = UInt32(parts[1]) else { return nil }
                processNames[pid] = name
                continue
            }
            guard case .number(let text) = value else { return nil }
            if let n = Int64(text) {
                set(key, .int(n))
            } else if let d = Double(text) {
                set(key, .real(d))
            } else {
                return nil
            }
        }
    }
}
