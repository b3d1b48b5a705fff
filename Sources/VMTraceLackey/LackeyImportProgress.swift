// How far an import is: real logs run to gigabytes (1.9 GB for one Python run), and the
// importer reads them twice (issue 17).
import VMTrace
import Glibc

public struct LackeyImportProgress: Sendable {
    /// 1 (collecting what the trace needs first) or 2 (writing the trace).
    public private(set) var pass = 1
    /// Log bytes read in this pass (compressed bytes for gzip logs), and the logs' total size.
    public private(set) var bytesRead: UInt64 = 0
    public private(set) var totalBytes: UInt64 = 0
    /// Bytes of the logs finished in this pass, and of those open: a fork child's logs are read
    /// in the middle of its parent's.
    private var finishedBytes: UInt64 = 0
    private var openBytes: [UInt64] = []

    /// Both passes together, 0 to 1.
    public var fraction: Double {
        guard totalBytes > 0 else { return 0 }
        let f = (Double(pass - 1) + min(Double(bytesRead) / Double(totalBytes), 1)) / 2
        return f.isFinite ? min(max(f, 0), 1) : 0
    }

    mutating func begin(pass: Int, logs: [String]) {
        self.pass = pass
        finishedBytes = 0
        openBytes = []
        bytesRead = 0
        totalBytes = logs.reduce(0) { sum, path in
            var st = stat()
            return stat(path, &st) == 0 ? sum + UInt64(max(st.st_size, 0)) : sum
        }
    }

    mutating func openLog() { openBytes.append(0) }

    mutating func at(_ logBytes: UInt64) -> LackeyImportProgress {
        if !openBytes.isEmpty { openBytes[openBytes.count - 1] = logBytes }
        bytesRead = finishedBytes + openBytes.reduce(0, +)
        return self
    }

    mutating func finishLog(_ logBytes: UInt64) {
        if !openBytes.isEmpty { openBytes.removeLast() }
        finishedBytes += logBytes
        bytesRead = finishedBytes + openBytes.reduce(0, +)
    }
}
