// Settings of the simulated machine rather than of the kernel: memory and swap sizes. The
// report echoes them with the tunables (`vmreplay.phys_mem`, `vmreplay.swap`), so `-s` sets
// them and a sweep varies them like any tunable (issue 17).

public enum MachineSetting: String, CaseIterable, Sendable {
    case physicalMemory = "vmreplay.phys_mem"
    case swap = "vmreplay.swap"

    /// Bytes. The engine needs some memory to run at all (as --phys-mem).
    var range: ClosedRange<Int64> {
        switch self {
        case .physicalMemory: return (4 << 20)...Int64.max
        case .swap: return 0...Int64.max
        }
    }

    func apply(_ bytes: Int64, to configuration: inout ReplayConfiguration) {
        switch self {
        case .physicalMemory: configuration.physicalMemory = UInt64(bytes)
        case .swap: configuration.swap = UInt64(bytes)
        }
    }

    /// Checks a value (bytes, K/M/G already applied).
    func check(_ value: Int64, in text: String) throws(SettingError) {
        guard range.contains(value) else {
            throw .syntax(text, "\(rawValue) must be at least \(range.lowerBound) bytes\(self == .physicalMemory ? " (4M)" : "")")
        }
    }
}

extension Setting {
    /// `base` with the assignments applied: tunables by sysctl name, and the machine settings.
    public static func configuration(_ assignments: [(String, Int64)], base: ReplayConfiguration) throws(SettingError)
        -> ReplayConfiguration
    {
        var c = base
        c.tunables = try tunables(assignments.filter { MachineSetting(rawValue: $0.0) == nil }, base: base.tunables)
        for (name, value) in assignments {
            guard let machine = MachineSetting(rawValue: name) else { continue }
            // Checked here too, not only when -s is parsed: a golden's settings come this way.
            try machine.check(value, in: "\(name)=\(value)")
            machine.apply(value, to: &c)
        }
        return c
    }
}
