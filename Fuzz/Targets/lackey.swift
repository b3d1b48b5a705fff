// Fuzz target `lackey`: the Valgrind Lackey importer (`vmreplay import lackey`). The first
// input byte is a mode (bit 0 --merge, bit 1 --resident, bit 2 the last part is a Valgrind
// stderr layout file, bit 3 --keep-going); the rest is split at each "\n%%\n" into log files
// (at most 4) named like the recorder names them (lk.PID.N.log).
// Properties: never traps or hangs; a bad log is a TraceError with exit code 65; an import whose
// events all pass the trace validator round-trips through the writers. (Events the validator
// rejects make `import` fail with exit 65 when it writes them, see docs/fuzzing.md.)
import Glibc
@testable import VMTrace
@testable import VMTraceLackey

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzLackey(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    var input = FuzzBytes(data, size)
    let mode = input.byte()
    let rest = Array(input.remaining)
    var parts: [[UInt8]] = []
    var current: [UInt8] = []
    var i = 0
    let separator: [UInt8] = Array("\n%%\n".utf8)
    while i < rest.count {
        if parts.count < 4, rest[i] == separator[0], i + 4 <= rest.count, Array(rest[i..<i + 4]) == separator {
            parts.append(current + [0x0a])
            current = []
            i += 4
            continue
        }
        current.append(rest[i])
        i += 1
    }
    parts.append(current)
    var options = LackeyImportOptions()
    options.merge = mode & 1 != 0
    options.resident = mode & 2 != 0
    options.keepGoing = mode & 8 != 0
    if mode & 4 != 0 && parts.count > 1 {
        options.layoutPaths = [Scratch.write("valgrind-stderr.txt", parts.removeLast())]
    }
    var logs: [String] = []
    for (n, part) in parts.enumerated() {
        logs.append(Scratch.write("lk.\(4100 + n).1.log", part))
    }
    let events: [TraceEvent]
    do {
        events = try LackeyImporter(logs: logs, options: options).events()
    } catch let error as TraceError {
        expectDataError(error, "lackey")
        return 0
    } catch {
        propertyFailed("lackey: the importer threw something that is not a TraceError: \(error)")
    }
    // `import` writes through TraceWriter, which rejects an invalid event with a data error
    // (exit 65); only a fully valid import goes on to the round trip.
    var validator = TraceValidator()
    for e in events where validator.check(e) != nil { return 0 }
    checkRoundTrip(events, "lackey")
    return 0
}
