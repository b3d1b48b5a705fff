// The first SIGSEGVs of a replay, with the event that raised each: a recording that should
// replay clean but does not says at once where to look (issue 17).

public struct SigsegvSample: Equatable, Sendable, CustomStringConvertible {
    /// 1-based number of the event (every event counts, as in replay errors' "event N").
    public var event: UInt64
    public var pid: UInt32
    /// The faulting page (the engine faults page by page; the byte within it is not kept).
    public var address: UInt64
    public var accerr: Bool

    public var description: String {
        "event \(event): pid \(pid) page 0x\(String(address, radix: 16)) \(accerr ? "SEGV_ACCERR" : "SEGV_MAPERR")"
    }

    var json: String {
        "{\"event\": \(event), \"pid\": \(pid), \"page\": \"0x\(String(address, radix: 16))\", \"code\": \"\(accerr ? "SEGV_ACCERR" : "SEGV_MAPERR")\"}"
    }
}

extension Replayer {
    /// How many SIGSEGVs a report lists.
    public static let sigsegvSampleLimit = 10

    /// Starts keeping the first `sigsegvSampleLimit` SIGSEGVs (the kernel's hook).
    func recordSigsegvSamples() {
        kernel.onSigsegv = { [unowned self] pid, address, accerr in
            guard self.sigsegvSamples.count < Replayer.sigsegvSampleLimit else { return }
            self.sigsegvSamples.append(SigsegvSample(event: self.events, pid: pid, address: address, accerr: accerr))
        }
    }
}

extension Report {
    /// The `[sigsegv]` block of the text report: one line per sample.
    func sigsegvLines() -> [String] {
        guard !sigsegvSamples.isEmpty else { return [] }
        let total = self["trap.sigsegv"]?.asInt ?? Int64(sigsegvSamples.count)
        let head = total > Int64(sigsegvSamples.count) ? "the first \(sigsegvSamples.count) of \(total)" : "all \(total)"
        return ["[sigsegv] (\(head))"] + sigsegvSamples.map { "  \($0)" }
    }
}
