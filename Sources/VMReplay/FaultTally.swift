// The counters that attribution (`replay --by`) and the timeline split up: each is a report key,
// so a table's column sums can be checked against the report.
import VMKernel

public struct FaultTally: Equatable, Sendable {
    /// The columns, in table order.
    public enum Column: Int, CaseIterable, Sendable {
        case traps, vmFaults, zfod, cowFaults, minflt, majflt, prefaultPages, prefaultHits, prefaultUnused, sigsegv

        /// The report key the column splits.
        public var key: String {
            switch self {
            case .traps: return "trap.page_faults"
            case .vmFaults: return "vm.stats.vm.v_vm_faults"
            case .zfod: return "vm.stats.vm.v_zfod"
            case .cowFaults: return "vm.stats.vm.v_cow_faults"
            case .minflt: return "rusage.ru_minflt"
            case .majflt: return "rusage.ru_majflt"
            case .prefaultPages: return "prefault.pages"
            case .prefaultHits: return "prefault.hits"
            case .prefaultUnused: return "prefault.unused"
            case .sigsegv: return "trap.sigsegv"
            }
        }

        /// A short header for text tables (the sweep table's names where it has them).
        public var header: String {
            switch self {
            case .traps: return "traps"
            case .vmFaults: return "v_vm_faults"
            case .zfod: return "v_zfod"
            case .cowFaults: return "v_cow_faults"
            case .minflt: return "ru_minflt"
            case .majflt: return "ru_majflt"
            case .prefaultPages: return "pf.pages"
            case .prefaultHits: return "pf.hits"
            case .prefaultUnused: return "pf.unused"
            case .sigsegv: return "sigsegv"
            }
        }
    }

    private var values = (UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0),
                          UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0))

    public init() {}

    public static func == (a: FaultTally, b: FaultTally) -> Bool {
        Column.allCases.allSatisfy { a[$0] == b[$0] }
    }

    public subscript(_ c: Column) -> UInt64 {
        get {
            switch c {
            case .traps: return values.0
            case .vmFaults: return values.1
            case .zfod: return values.2
            case .cowFaults: return values.3
            case .minflt: return values.4
            case .majflt: return values.5
            case .prefaultPages: return values.6
            case .prefaultHits: return values.7
            case .prefaultUnused: return values.8
            case .sigsegv: return values.9
            }
        }
        set {
            switch c {
            case .traps: values.0 = newValue
            case .vmFaults: values.1 = newValue
            case .zfod: values.2 = newValue
            case .cowFaults: values.3 = newValue
            case .minflt: values.4 = newValue
            case .majflt: values.5 = newValue
            case .prefaultPages: values.6 = newValue
            case .prefaultHits: values.7 = newValue
            case .prefaultUnused: values.8 = newValue
            case .sigsegv: values.9 = newValue
            }
        }
    }

    public var isZero: Bool { Column.allCases.allSatisfy { self[$0] == 0 } }

    public static func += (a: inout FaultTally, b: FaultTally) {
        for c in Column.allCases { a[c] &+= b[c] }
    }

    /// `a - b` column by column; a counter never goes down, so a negative difference (which
    /// would be an engine bug) counts as 0 rather than wrapping.
    public static func - (a: FaultTally, b: FaultTally) -> FaultTally {
        var d = FaultTally()
        for c in Column.allCases { d[c] = a[c] >= b[c] ? a[c] - b[c] : 0 }
        return d
    }

    /// The kernel's global counters now (rusage is per process: the caller adds it).
    static func globalCounters(of kernel: Kernel) -> FaultTally {
        var t = FaultTally()
        let m = kernel.meter, c = kernel.counters
        t[.traps] = c.pageFaults
        t[.vmFaults] = m.v_vm_faults
        t[.zfod] = m.v_zfod
        t[.cowFaults] = m.v_cow_faults
        t[.prefaultPages] = c.prefaultPages
        t[.prefaultHits] = c.prefaultHits
        t[.prefaultUnused] = c.prefaultUnused
        t[.sigsegv] = c.sigsegv
        return t
    }

    /// The report's totals of the columns.
    public static func totals(of report: Report) -> FaultTally {
        var t = FaultTally()
        for c in Column.allCases { t[c] = UInt64(clamping: report[c.key]?.asInt ?? 0) }
        return t
    }
}
