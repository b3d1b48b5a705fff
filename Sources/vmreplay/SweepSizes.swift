// `sweep --phys-mem 32M,64M` (and --swap): sugar for -s vmreplay.phys_mem=32M,64M.
import ArgumentParser
import VMReplay

extension ReplayOptions {
    /// Turns --phys-mem and --swap into swept settings (a single size is a one-value sweep, so
    /// the row says what it ran with) and clears them.
    mutating func takeSizeLists() throws -> [Setting] {
        var out: [Setting] = []
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
        return out
    }
}
