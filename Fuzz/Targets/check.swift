// Fuzz target `check`: golden files and `-s` settings, the inputs of `check` besides the trace.
//   * An input starting with `{` is a golden's JSON. If Golden(json:) accepts it, its settings,
//     phys_mem and swap must make a machine (Replayer.init does not throw: the golden is checked
//     as the command line checks -s and --phys-mem), a short replay with them must run, its
//     comparison with the golden must complete, and the golden written back must parse to the
//     same settings, memory and values.
//   * Anything else is `-s` arguments, one a line. If Setting(parsing:) accepts one, it has at
//     most Setting.maximumValues values, and each value either is refused by
//     Setting.configuration (a combination no machine has) or makes a machine.
import Glibc
import VMKernel
@testable import VMReplay
import VMTrace

/// Scenario A's events plus a fork and a file: what every golden's configuration replays.
private let events: [TraceEvent] = [
    .proc(pid: 1, threads: 1),
    .mmap(Mapping(pid: 1, address: 0x1000_0000, length: 64 << 10, protection: [.read, .write])),
    .access(Access(kind: .write, pid: 1, address: 0x1000_0000)),
    .fork(parent: 1, child: 2),
    .access(Access(kind: .write, pid: 2, address: 0x1000_1000, size: 8192)),
    .access(Access(kind: .read, pid: 1, address: 0x1000_0000, size: 1 << 16)),
]

private func mustMakeAMachine(_ config: ReplayConfiguration, _ what: String, replay: Bool) -> Report? {
    let replayer: Replayer
    do { replayer = try Replayer(config) } catch { propertyFailed("\(what) accepted, but no machine: \(error)") }
    guard replay else { return nil }
    for e in events { try? replayer.apply(e) }
    return replayer.finish()
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzCheck(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let data, size > 0 else { return 0 }
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    if data[0] == UInt8(ascii: "{") {
        guard let golden = try? Golden(json: text, file: "fuzz.json") else { return 0 }
        // As `check` configures from a golden: its settings (tunables and machine settings,
        // vmreplay.phys_mem / vmreplay.swap), then its phys_mem and swap.
        var config: ReplayConfiguration
        do { config = try Setting.configuration(golden.settings, base: ReplayConfiguration()) } catch {
            propertyFailed("golden accepted with settings Setting.configuration refuses: \(error)")
        }
        config.physicalMemory = golden.physicalMemory
        config.swap = golden.swap
        if let report = mustMakeAMachine(config, "golden", replay: true) {
            _ = GoldenCheck.compare(golden: golden, report: report, actualChecksum: TraceChecksum(crc32: 0, bytes: 0))
        }
        let again: Golden
        do { again = try Golden(json: golden.renderJSON(), file: "rendered.json") } catch {
            propertyFailed("a parsed golden, written back, does not parse: \(error)")
        }
        if again.physicalMemory != golden.physicalMemory || again.swap != golden.swap
            || again.settings.map({ "\($0.name)=\($0.value)" }) != golden.settings.map({ "\($0.name)=\($0.value)" })
            || again.values.map({ "\($0.key)=\($0.value)" }) != golden.values.map({ "\($0.key)=\($0.value)" })
        {
            propertyFailed("a golden written back reads differently")
        }
        return 0
    }
    for line in text.split(separator: "\n") {
        guard let setting = try? Setting(parsing: String(line)) else { continue }
        if setting.values.count > Setting.maximumValues {
            propertyFailed("\(setting.name) has \(setting.values.count) values")
        }
        for value in setting.values.prefix(64) {
            guard let config = try? Setting.configuration([(setting.name, value)],
                                                          base: ReplayConfiguration(physicalMemory: 4 << 20))
            else { continue }
            _ = mustMakeAMachine(config, "-s \(setting.name)=\(value)", replay: false)
        }
    }
    return 0
}
