// `-s NAME=VALUE` settings: parsing, validation against the tunables, and the cartesian product
// a sweep runs.
import VMKernel

/// One `-s` argument: a tunable name and one or more values.
public struct Setting: Equatable, Sendable {
    public var name: String
    public var values: [Int64]

    public init(name: String, values: [Int64]) {
        self.name = name
        self.values = values
    }

    /// Parses `NAME=V` or `NAME=V1,V2,...` or `NAME=A..B[:STEP|:xFACTOR]`. Values are decimal or
    /// 0x hex and may carry a binary K/M/G suffix (1K = 1024). Every value is checked against the
    /// tunable's range now, so a sweep fails before it starts.
    public init(parsing text: String) throws(SettingError) {
        guard let eq = text.firstIndex(of: "=") else { throw .syntax(text, "expected NAME=VALUE") }
        name = String(text[..<eq])
        let machine = MachineSetting(rawValue: name)
        guard machine != nil || Sysctl.descriptor(named: name) != nil else {
            throw .sysctl(.unknownName(name))
        }
        let spec = text[text.index(after: eq)...]
        guard !spec.isEmpty else { throw .syntax(text, "no value after '='") }
        var values: [Int64] = []
        for part in spec.split(separator: ",", omittingEmptySubsequences: false) {
            values += try Setting.expand(part, in: text)
            // The limit holds for the whole list too (0..9999,0..9999,... grew without bound).
            guard values.count <= Setting.maximumValues else {
                throw .syntax(text, "more than \(Setting.maximumValues) values")
            }
        }
        if let machine {
            for v in values { try machine.check(v, in: text) }
            self.values = values
            return
        }
        var probe = Tunables()
        for v in values {
            do { try probe.set(name, to: v) } catch { throw .sysctl(error) }
        }
        self.values = values
    }

    /// One comma-separated part: a number, or a range `A..B`, `A..B:STEP`, `A..B:xFACTOR`.
    static func expand(_ part: Substring, in text: String) throws(SettingError) -> [Int64] {
        guard let dots = part.range(of: "..") else {
            guard let v = parseNumber(part) else { throw .syntax(text, "'\(part)' is not a number") }
            return [v]
        }
        let lowText = part[..<dots.lowerBound]
        var highText = part[dots.upperBound...]
        var step: Int64 = 1
        var factor: Int64 = 0
        if let colon = highText.firstIndex(of: ":") {
            let stepText = highText[highText.index(after: colon)...]
            highText = highText[..<colon]
            if stepText.first == "x" {
                guard let f = parseNumber(stepText.dropFirst()), f >= 2 else {
                    throw .syntax(text, "'\(stepText)' is not a factor of 2 or more")
                }
                factor = f
            } else {
                guard let s = parseNumber(stepText), s >= 1 else {
                    throw .syntax(text, "'\(stepText)' is not a positive step")
                }
                step = s
            }
        }
        guard let low = parseNumber(lowText), let high = parseNumber(highText), low <= high else {
            throw .syntax(text, "'\(part)' is not a range LOW..HIGH")
        }
        var out: [Int64] = []
        if factor > 0 {
            // 0..64:x2 means 0, 1, 2, 4, ..., 64: doubling needs a non-zero start.
            var v = low
            if v == 0 {
                out.append(0)
                v = 1
            }
            while v <= high {
                out.append(v)
                let (next, overflow) = v.multipliedReportingOverflow(by: factor)
                if overflow || v <= 0 { break }
                v = next
            }
        } else {
            // Count before materialising (0..2147483647 built 2^31 values, then refused them).
            // high >= low, so the difference fits in 64 unsigned bits.
            guard UInt64(bitPattern: high &- low) / UInt64(step) < Setting.maximumValues else {
                throw .syntax(text, "range expands to more than \(Setting.maximumValues) values")
            }
            var v = low
            while v <= high {
                out.append(v)
                let (next, overflow) = v.addingReportingOverflow(step)
                if overflow { break }
                v = next
            }
        }
        guard out.count <= Setting.maximumValues else {
            throw .syntax(text, "range expands to more than \(Setting.maximumValues) values")
        }
        return out
    }

    /// The most values one range may expand to.
    public static let maximumValues = 10_000

    /// How many combinations `product(settings)` has, or nil if more than `limit`.
    public static func combinationCount(_ settings: [Setting], limit: Int) -> Int? {
        var n = 1
        for s in settings {
            let (next, overflow) = n.multipliedReportingOverflow(by: s.values.count)
            guard !overflow, next <= limit else { return nil }
            n = next
        }
        return n
    }

    /// Checks every combination of `settings` as `tunables` would apply it.
    public static func checkProduct(_ settings: [Setting]) throws(SettingError) {
        // Machine settings (vmreplay.phys_mem, vmreplay.swap) are checked when they are parsed.
        for combination in product(settings) { _ = try tunables(combination.filter { MachineSetting(rawValue: $0.0) == nil }) }
    }

    /// The cartesian product of settings, first setting varying slowest.
    public static func product(_ settings: [Setting]) -> [[(String, Int64)]] {
        var rows: [[(String, Int64)]] = [[]]
        for s in settings {
            var next: [[(String, Int64)]] = []
            for row in rows {
                for v in s.values { next.append(row + [(s.name, v)]) }
            }
            rows = next
        }
        return rows
    }

    /// Tunables with the given assignments applied to the defaults.
    public static func tunables(_ assignments: [(String, Int64)], base: Tunables = Tunables())
        throws(SettingError) -> Tunables
    {
        var t = base
        do {
            for (name, value) in assignments { try t.set(name, to: value) }
            try t.checkCombination()
        } catch { throw .sysctl(error) }
        return t
    }
}

public enum SettingError: Error, CustomStringConvertible {
    case syntax(String, String)
    case sysctl(SysctlError)

    public var description: String {
        switch self {
        case .syntax(let text, let why): return "bad setting '\(text)': \(why)"
        case .sysctl(.unknownName(let n)):
            // The machine's own settings are known names too.
            return SysctlError.unknownName(n).description + ", " + MachineSetting.allCases.map(\.rawValue).joined(separator: ", ")
        case .sysctl(let e): return e.description
        }
    }
}

/// Parses a decimal or 0x hex number with an optional binary K/M/G suffix.
public func parseNumber<S: StringProtocol>(_ text: S) -> Int64? {
    var s = Substring(text)
    var negative = false
    if s.first == "-" {
        negative = true
        s = s.dropFirst()
    }
    var shift: Int64 = 0
    switch s.last {
    case "k", "K": shift = 10
    case "m", "M": shift = 20
    case "g", "G": shift = 30
    default: break
    }
    if shift > 0 { s = s.dropLast() }
    let magnitude: Int64?
    if s.hasPrefix("0x") || s.hasPrefix("0X") {
        magnitude = Int64(s.dropFirst(2), radix: 16)
    } else {
        magnitude = Int64(s, radix: 10)
    }
    guard let m = magnitude else { return nil }
    let (v, overflow) = m.multipliedReportingOverflow(by: Int64(1) << shift)
    guard !overflow else { return nil }
    return negative ? -v : v
}
