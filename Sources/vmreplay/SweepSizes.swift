// `sweep --phys-mem 32M,64M` (and --swap): sugar for -s vmreplay.phys_mem=32M,64M.
import ArgumentParser
import VMReplay

extension ReplayOptions {
    /// Turns --phys-mem and --swap into swept settings after `settings` (a single size is a
    /// one-value sweep, so the row says what it ran with) and clears them. A size given both
    /// ways (--phys-mem and -s vmreplay.phys_mem) is a setting named twice: 64.
    mutating func takeSizeLists(adding settings: [Setting]) throws -> [Setting] {
        var out = settings
        for (machine, sizes) in [(MachineSetting.physicalMemory, physMem?.all), (.swap, swap?.all)] {
            guard let sizes else { continue }
            let text = "\(machine.rawValue)=" + sizes.map(String.init).joined(separator: ",")
            do { out.append(try Setting(parsing: text)) } catch {
                printToStandardError("vmreplay: \(error.description)")
                throw ExitCode(64)
            }
        }
        physMem = nil
        swap = nil
        do { try Setting.checkDistinctNames(out) } catch {
            printToStandardError("vmreplay: \(error.description)")
            throw ExitCode(64)
        }
        return out
    }
}
