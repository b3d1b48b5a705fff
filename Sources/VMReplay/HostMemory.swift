// What an engine costs in host memory, estimated from its counts (processes, files, objects,
// map entries, page frames, page-table pages), and the check against `--max-memory`. The
// per-item costs were measured with peak RSS of release builds (docs/scale.md, "Memory").
import VMKernel

public enum HostMemory {
    /// Bytes per item of each kind, and what messages call it.
    /// Measured as peak RSS over the counts (release build, docs/scale.md): 200,000 bare
    /// processes 1.00 GB (5.1 KB each with its page-table page and that page's frame);
    /// 400,000 touched anonymous pages 75 MB; 200,000 files 64 MB; 100,000 map entries 14 MB.
    static let costs: [(name: String, bytes: UInt64, count: @Sendable (Kernel) -> Int)] = [
        ("processes", 800, { $0.processCount }),
        ("files", 160, { $0.fileCount }),
        ("VM objects", 170, { $0.liveObjects }),
        ("map entries", 140, { $0.mapEntryCount }),
        ("page frames", 190, { $0.pageFramesCreated }),
        ("page-table pages", 4_200, { $0.pageTablePages }),
    ]
    /// An engine's fixed cost (TLBs, tables, buffers).
    static let baseBytes: UInt64 = 1 << 20

    /// Estimated host bytes of `kernel`, and each kind's share.
    public static func estimate(_ kernel: Kernel) -> (total: UInt64, parts: [(name: String, count: Int, bytes: UInt64)]) {
        let parts = costs.map { c in
            let n = c.count(kernel)
            return (c.name, n, UInt64(n) * c.bytes)
        }
        return (parts.reduce(baseBytes) { $0 + $1.2 }, parts)
    }

    /// A message naming what grew when `kernel`'s estimate passes `budget`, else nil.
    public static func overBudget(_ kernel: Kernel, budget: UInt64) -> String? {
        let (total, parts) = estimate(kernel)
        guard total > budget else { return nil }
        let top = parts.sorted { $0.bytes > $1.bytes }.prefix(2)
            .map { "\($0.name) \($0.count) (~\(byteText($0.bytes)))" }.joined(separator: ", ")
        return "host memory estimate \(byteText(total)) passed the budget (--max-memory) \(byteText(budget)); grown: \(top)"
    }

    /// `1.5 GiB`, `300 MiB`, `12 KiB`.
    public static func byteText(_ bytes: UInt64) -> String {
        let units: [(String, Double)] = [("GiB", 1_073_741_824), ("MiB", 1_048_576), ("KiB", 1024)]
        for (unit, size) in units where Double(bytes) >= size {
            let v = Double(bytes) / size
            return (v < 10 ? String(format: "%.1f", v) : String(Int(v.rounded()))) + " " + unit
        }
        return "\(bytes) B"
    }
}
