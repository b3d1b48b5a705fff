// The progress line a long replay shows on standard error when it is a terminal.
import Glibc
import VMReplay

/// Redraws one status line on stderr (never stdout); silent unless stderr is a terminal.
final class ProgressLine {
    private let enabled: Bool
    private let label: String
    private var drawn = false

    init(label: String, requested: Bool?) {
        self.label = label
        enabled = requested ?? (isatty(2) != 0)
    }

    func update(_ p: ReplayProgress) {
        guard enabled else { return }
        var line = "\(label): "
        if let f = p.trace.fraction {
            line += "\(Int(f * 100))% "
        }
        line += "\(megabytes(p.trace.fileBytesRead))"
        if let size = p.trace.fileSize { line += "/\(megabytes(size))" }
        let rate = p.elapsedSeconds > 0 ? Double(p.trace.events) / p.elapsedSeconds : 0
        line += String(format: "  %.1f M events/s", rate / 1e6)
        if let eta = p.etaSeconds { line += "  ETA \(Int(eta.rounded()))s" }
        printRaw("\r\u{1B}[K" + line)
        drawn = true
    }

    /// A line of the caller's own making (after the label).
    func show(_ text: String) {
        guard enabled else { return }
        printRaw("\r\u{1B}[K\(label): \(text)")
        drawn = true
    }

    /// Erases the line before the report or an error is printed.
    func clear() {
        guard enabled, drawn else { return }
        printRaw("\r\u{1B}[K")
        drawn = false
    }

    private func megabytes(_ bytes: UInt64) -> String {
        String(format: "%.1f MB", Double(bytes) / 1e6)
    }

    private func printRaw(_ s: String) {
        var s = s
        s.withUTF8 { b in _ = write(2, b.baseAddress, b.count) }
    }
}
