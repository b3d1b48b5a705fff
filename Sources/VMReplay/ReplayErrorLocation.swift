// A kernel refusal named like the trace layer's own errors: the text line or the binary
// record's byte offset of the refused event (issue 16 item 5), not only its event number.
import VMTrace

extension ReplayError {
    /// This error as a data error of the trace `file` in `format`: `FILE:LINE: message` for a
    /// text trace, `FILE: byte N: message (event E)` for a binary one (E for orientation; for
    /// gzip the offset is in the decompressed stream, as the decoder's own errors say), and
    /// `FILE: event E: message` when the event came without a location (accesses, audits).
    public func dataError(file: String, format: TraceFormat) -> TraceError {
        switch location {
        case .none:
            return TraceError(.dataError, file: file, description)
        case .line:
            return TraceError(.dataError, file: file, at: location, message)
        case .byte:
            return TraceError(.dataError, file: file, at: location,
                              "\(message) (event \(eventNumber))\(format.decodedOffsetNote)")
        }
    }
}

extension TraceReader {
    /// `error` as a data error of this trace (see `ReplayError.dataError(file:format:)`).
    public func dataError(_ error: ReplayError) -> TraceError {
        error.dataError(file: displayName, format: format)
    }
}
