// `vmreplay sysctl [-a] [NAME...]`: the tunables a replay can set, `sysctl -a` style.
import ArgumentParser
import VMKernel

struct SysctlCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sysctl",
        abstract: "List the tunables a replay can set with -s, with defaults and descriptions.",
        discussion: """
            Prints `name: default` lines like sysctl(8); with -d, each line also gives the \
            description and where the knob comes from (a DragonFly sysctl, a loader tunable, \
            or vmreplay's own). Name one or more tunables to show just those; a name ending \
            in a dot shows a whole subtree.

            Examples:
              vmreplay sysctl -a
              vmreplay sysctl -d vm.prefault_pages vm.fast_fault
              vmreplay sysctl vmreplay.tlb.
            """
    )

    @Flag(name: .customShort("a"), help: "All tunables (the default when no name is given).")
    var all = false

    @Flag(name: .customShort("d"), help: "Show descriptions, ranges and origins.")
    var describe = false

    @Argument(help: "Tunable names or prefixes ending in '.'.")
    var names: [String] = []

    func run() throws {
        var selected: [SysctlDescriptor] = []
        if names.isEmpty || all {
            selected = Sysctl.all
        } else {
            for n in names {
                let matches = Sysctl.all.filter { n.hasSuffix(".") ? $0.name.hasPrefix(n) : $0.name == n }
                guard !matches.isEmpty else {
                    printToStandardError("vmreplay: sysctl: unknown oid '\(n)'; known: "
                        + Sysctl.all.map(\.name).joined(separator: ", "))
                    throw ExitCode(64)
                }
                selected += matches
            }
        }
        var out = ""
        for d in selected {
            if describe {
                out += "\(d.name): \(d.defaultValue)\n    \(d.description)\n"
                    + "    range \(d.range.lowerBound)..\(d.range.upperBound), \(d.origin)\n"
            } else {
                out += "\(d.name): \(d.defaultValue)\n"
            }
        }
        try runReportingErrors { try printToStandardOutput(out) }
    }
}
