// Lines `check` prints besides the table of differences.

enum CheckReport {
    /// Keys the replay reports that the golden lacks: shown (they are not compared), so that a
    /// counter added to vmreplay is noticed and taken into the golden on purpose.
    static func newKeysLine(_ keys: [String]) -> String {
        let shown = keys.prefix(8).joined(separator: ", ") + (keys.count > 8 ? ", ..." : "")
        return "vmreplay: \(keys.count) key\(keys.count == 1 ? "" : "s") not in the golden (not compared; --update adds them): \(shown)\n"
    }
}
