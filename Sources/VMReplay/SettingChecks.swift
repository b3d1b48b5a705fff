// Checks on a command line's `-s` settings as a whole (each one is checked as it is parsed).
import Foundation

extension Setting {
    /// A tunable named by two `-s` options is a usage error: a sweep would label rows with the
    /// first values and run them all with the last (issue 17).
    public static func checkDistinctNames(_ settings: [Setting]) throws(SettingError) {
        var seen = Set<String>()
        for s in settings where !seen.insert(s.name).inserted {
            throw .syntax("-s \(s.name)", "the setting is given twice; give its values once (\(s.name)=V1,V2,...)")
        }
    }
}

/// Key globs (`--keys`, fnmatch patterns) and the report keys they select.
public struct KeySelection: Sendable {
    public var globs: [String]

    public init(_ globs: [String]) { self.globs = globs }

    /// No globs select every key.
    public func selects(_ key: String) -> Bool {
        globs.isEmpty || globs.contains { fnmatch($0, key, 0) == 0 }
    }

    /// The globs that match none of `keys`: a typo would otherwise turn a CI check into a no-op.
    public func unmatched(by keys: some Sequence<String>) -> [String] {
        var left = globs
        for key in keys where !left.isEmpty {
            left.removeAll { fnmatch($0, key, 0) == 0 }
        }
        return left
    }
}
