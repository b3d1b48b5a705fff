// Fuzz target `binary-gzip`: the gzip layer under the binary decoder. The first input byte is
// a mode; the rest is a binary trace body (the target adds the header, as for `binary`), which
// the target compresses with zlib and then, by mode:
//   0: leaves the gzip file whole,
//   1: cuts it short at a position taken from the next two bytes (a trace still being written),
//   2: overwrites one compressed byte (damage),
//   3: appends a second gzip member holding the body again (a concatenated file, as
//      `cat a.gz b.gz` makes), which must decode as the two contents concatenated,
//   4+: the input after the mode byte is the gzip file itself, as is.
// Properties: those of `binary`; a cut stream is always an error; members concatenate.
import Glibc
@testable import VMTrace

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzBinaryGzip(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    var input = FuzzBytes(data, size)
    let mode = input.byte() % 5
    if mode == 4 {
        checkBinaryFile(Array(input.remaining), "binary-gzip raw")
        return 0
    }
    let parameter = Int(input.u16())
    let body = Array(input.remaining)
    let plain = BinaryTrace.magic + [BinaryTrace.version, 0] + body
    var gz = plain.withUnsafeBytes { gzipCompress($0) }
    var mustFail: String?
    switch mode {
    case 1:
        let keep = parameter % gz.count
        gz = Array(gz.prefix(keep))
        // A file of 0 or 1 bytes is not recognisably gzip (it is read as text).
        if keep >= 2 { mustFail = "the gzip stream was cut at byte \(keep)" }
    case 2:
        let i = parameter % gz.count
        gz[i] ^= UInt8(truncatingIfNeeded: parameter >> 8) | 1
    case 3:
        gz += body.withUnsafeBytes { gzipCompress($0) }
        // Members are concatenated: the file must decode exactly as its concatenated contents
        // (a second member is never silently dropped).
        let whole = readTrace(Scratch.write("cat.vmt", plain + body), keepGoing: false)
        let members = readTrace(Scratch.write("cat.vmt.gz", gz), keepGoing: false)
        if (whole.error == nil) != (members.error == nil) || whole.events != members.events {
            propertyFailed("binary-gzip: two gzip members decode differently from their contents concatenated: \(members.error.map { "\($0)" } ?? "\(members.events.count) events") vs \(whole.error.map { "\($0)" } ?? "\(whole.events.count) events")")
        }
    default:
        break
    }
    checkBinaryFile(gz, "binary-gzip mode \(mode)", mustFail: mustFail)
    return 0
}
