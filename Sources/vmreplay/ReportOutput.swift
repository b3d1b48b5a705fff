// How `replay` prints a report: --keys selects keys, and JSON carries a header (the trace,
// its checksum, vmreplay's version, the settings) under "vmreplay".
import ArgumentParser
import VMReplay
import VMTrace

enum ReportOutput {
    static func render(_ report: Report, format: ReportFormat, keys: [String], trace: String,
                       settings: [(String, Int64)], configuration: ReplayConfiguration) throws -> String
    {
        var report = report
        if !keys.isEmpty {
            let selection = KeySelection(keys)
            if let glob = selection.unmatched(by: report.keys).first {
                printToStandardError("vmreplay: --keys '\(glob)' matches no report key (keys look like vm.stats.vm.v_zfod, prefault.hits)")
                throw ExitCode(64)
            }
            report = report.selecting(selection)
        }
        guard format == .json else { return report.render(format) }
        let checksum = trace == "-" ? nil : try TraceChecksum.of(path: trace)
        let name = trace.split(separator: "/").last.map(String.init) ?? trace
        let header = ReportHeader(traceName: trace == "-" ? "<stdin>" : name, checksum: checksum,
                                  settings: settings.map { ($0.0, $0.1) }, configuration: configuration)
        return report.renderJSON(header: header)
    }
}
