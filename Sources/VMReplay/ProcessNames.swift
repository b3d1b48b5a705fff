// Command names of the replayed processes (`proc.PID.comm`), as DragonFly's p_comm: set when a
// program starts from the image it runs, inherited by a fork child. A trace says which program
// only through its mappings, so a process's name is the base name of the first file it maps
// after `proc` or `exec` (the importer maps the executable first: it is the lowest file
// segment of Valgrind's layout). Processes that map no file have no name.
import VMTrace

public struct ProcessNames: Sendable {
    public private(set) var byPid: [UInt32: String] = [:]
    private var fileNames: [UInt32: String] = [:]
    private var unnamed: Set<UInt32> = []

    public init() {}

    mutating func observe(_ event: TraceEvent) {
        switch event {
        case .file(let id, _, _, let path):
            let base = path.string.split(separator: "/").last.map(String.init) ?? ""
            if !base.isEmpty { fileNames[id] = base }
        case .proc(let pid, _):
            byPid[pid] = nil
            unnamed.insert(pid)
        case .exec(let pid):
            unnamed.insert(pid)
        case .fork(let parent, let child):
            byPid[child] = byPid[parent]
            if unnamed.contains(parent) { unnamed.insert(child) }
        case .mmap(let m):
            if let id = m.fileID, unnamed.contains(m.pid), let name = fileNames[id] {
                byPid[m.pid] = name
                unnamed.remove(m.pid)
            }
        default:
            break
        }
    }
}

extension Report {
    /// `rows` with a `proc.PID.comm` row after the last `proc.PID.` row of each named pid.
    func withNames(_ rows: [(String, String)], quote: (String) -> String = { $0 }) -> [(String, String)] {
        guard !processNames.isEmpty else { return rows }
        func pid(_ key: String) -> UInt32? {
            guard key.hasPrefix("proc.") else { return nil }
            return key.dropFirst(5).split(separator: ".").first.flatMap { UInt32($0) }
        }
        var out: [(String, String)] = []
        for (i, row) in rows.enumerated() {
            out.append(row)
            if let p = pid(row.0), i + 1 == rows.count || pid(rows[i + 1].0) != p, let name = processNames[p] {
                out.append(("proc.\(p).comm", quote(name)))
            }
        }
        return out
    }
}

extension GoldenCheck {
    /// For a re-recorded program (`check --ignore-checksum`): per-process keys on both sides
    /// renamed from `proc.PID.` to `proc.NAME#N.` (the Nth process of that name, in pid order),
    /// so that pids that changed between recordings still pair up. Processes without a name
    /// keep their pid.
    public static func matchingProcessesByName(_ golden: Golden, _ report: Report) -> (Golden, Report) {
        func renamer(_ names: [UInt32: String]) -> (String) -> String {
            var ordinal: [String: Int] = [:]
            var label: [UInt32: String] = [:]
            for (pid, name) in names.sorted(by: { $0.key < $1.key }) {
                ordinal[name, default: 0] += 1
                label[pid] = "\(name)#\(ordinal[name]!)"
            }
            return { key in
                guard key.hasPrefix("proc.") else { return key }
                let rest = key.dropFirst(5)
                guard let dot = rest.firstIndex(of: "."), let pid = UInt32(rest[..<dot]), let l = label[pid] else { return key }
                return "proc.\(l)" + rest[dot...]
            }
        }
        let goldenName = renamer(golden.processNames), reportName = renamer(report.processNames)
        var g = golden
        g.values = golden.values.map { (goldenName($0.key), $0.value) }
        g.processNames = [:]
        var r = Report()
        for (key, value) in report.entries { r.set(reportName(key), value) }
        return (g, r)
    }
}
