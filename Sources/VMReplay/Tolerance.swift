// `check --tolerance`: how far a counter may move before the check fails, as CI tools allow
// for measurements that are close but not bit-exact (a re-recorded program, another libc).
import Foundation

/// How far one value may be from its golden.
public enum ToleranceLimit: Equatable, Sendable, CustomStringConvertible {
    /// At most this many units either way.
    case absolute(Int64)
    /// At most this fraction of the golden value either way (0.005 for `0.5%`); a golden of 0
    /// allows only 0.
    case relative(Double)

    public func allows(golden: Int64, actual: Int64) -> Bool {
        let delta = actual.subtractingReportingOverflow(golden)
        guard !delta.overflow else { return false }
        switch self {
        case .absolute(let n): return delta.partialValue.magnitude <= n.magnitude
        case .relative(let f): return Double(delta.partialValue.magnitude) <= f * Double(golden.magnitude)
        }
    }

    public var description: String {
        switch self {
        case .absolute(let n): return String(n)
        case .relative(let f):
            let percent = f * 100
            return (percent == percent.rounded() ? String(Int64(percent)) : formatReal(percent)) + "%"
        }
    }

    /// `N` (units) or `X%` (X decimal, e.g. `0.5%`).
    init?(parsing text: Substring) {
        if text.hasSuffix("%") {
            guard let percent = Double(text.dropLast()), percent.isFinite, percent >= 0 else { return nil }
            self = .relative(percent / 100)
        } else {
            guard let n = parseNumber(text), n >= 0 else { return nil }
            self = .absolute(n)
        }
    }
}

/// Every `--tolerance` of a check: `LIMIT` for all keys, `GLOB=LIMIT` for the keys a glob
/// matches. A key takes the first glob that matches it, else the global limit, else none (exact).
public struct Tolerances: Sendable {
    public var global: ToleranceLimit?
    public var perKey: [(glob: String, limit: ToleranceLimit)] = []

    public init() {}

    public init(parsing specs: [String]) throws(SettingError) {
        for spec in specs {
            if let eq = spec.firstIndex(of: "=") {
                let glob = String(spec[..<eq])
                guard !glob.isEmpty, let limit = ToleranceLimit(parsing: spec[spec.index(after: eq)...]) else {
                    throw .syntax(spec, "expected KEY=N or KEY=X% (a key or glob, then a count or a percentage)")
                }
                perKey.append((glob, limit))
            } else {
                guard let limit = ToleranceLimit(parsing: Substring(spec)) else {
                    throw .syntax(spec, "expected N or X% (e.g. 0.5%), or KEY=N")
                }
                guard global == nil else { throw .syntax(spec, "a tolerance for all keys is given twice") }
                global = limit
            }
        }
    }

    public var isEmpty: Bool { global == nil && perKey.isEmpty }

    /// The limit for `key`, if any.
    public func limit(for key: String) -> ToleranceLimit? {
        perKey.first { fnmatch($0.glob, key, 0) == 0 }?.limit ?? global
    }

    /// The per-key globs that match none of `keys` (a typo would silently allow nothing).
    public func unmatchedGlobs(by keys: [String]) -> [String] {
        KeySelection(perKey.map(\.glob)).unmatched(by: keys)
    }
}
