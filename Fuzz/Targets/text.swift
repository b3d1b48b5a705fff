// Fuzz target `text`: the `vmtrace 1` text decoder (TraceReader on a text file).
// Properties: never traps or hangs; a bad trace is a TraceError with exit code 65; with
// --keep-going a trace that decodes strictly decodes the same with nothing skipped; every event
// delivered round-trips through the text and binary writers unchanged.
import Glibc
@testable import VMTrace

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzText(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let input = FuzzBytes(data, size)
    // Binary and gzip inputs belong to the other targets.
    if size >= 1 && (input.bytes[0] == 0x89 || input.bytes[0] == 0x1f) { return -1 }
    let (_, events) = decodeBothWays(Scratch.write("in.txt", input.bytes), "text")
    checkRoundTrip(events, "text", fromText: true)
    return 0
}
