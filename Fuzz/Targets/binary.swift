// Fuzz target `binary`: the `.vmt` binary decoder, uncompressed. The input is the trace after
// the 10-byte header (the target adds it), unless it starts with 0x89 (then it is the whole
// file, header included). Properties as for `text`; in addition a file without its end record
// (a truncated trace) is an error, never a silent cut.
import Glibc
@testable import VMTrace

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzBinary(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let input = FuzzBytes(data, size)
    var file: [UInt8] = []
    if size >= 1 && input.bytes[0] == 0x89 {
        file = Array(input.bytes)
    } else {
        file = BinaryTrace.magic + [BinaryTrace.version, 0] + Array(input.bytes)
    }
    checkBinaryFile(file, "binary")
    return 0
}
