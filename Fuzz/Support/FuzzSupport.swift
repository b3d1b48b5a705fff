// Shared by every fuzz target (compiled into each target binary by scripts/fuzz.sh): scratch
// files for the readers, which take paths; a byte cursor; gzip compression of a buffer; and the
// oracle helpers that turn a broken property into a crash libFuzzer records.
import CZlib
import Glibc
@testable import VMTrace

/// A per-process scratch directory in /dev/shm (tmpfs), removed at exit.
enum Scratch {
    static let directory: String = {
        let base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp"
        let dir = "\(base)/vmreplay-fuzz.\(getpid())"
        mkdir(dir, 0o700)
        atexit {
            let d = "\(access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp")/vmreplay-fuzz.\(getpid())"
            if let handle = opendir(d) {
                while let entry = readdir(handle) {
                    let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix(while: { $0 != 0 }), as: UTF8.self) }
                    if name != "." && name != ".." { unlink(d + "/" + name) }
                }
                closedir(handle)
            }
            rmdir(d)
        }
        return dir
    }()

    static func path(_ name: String) -> String { directory + "/" + name }

    /// Writes `bytes` to the scratch file `name` and returns its path.
    @discardableResult
    static func write(_ name: String, _ bytes: UnsafeRawBufferPointer) -> String {
        let p = path(name)
        writeFile(p, bytes)
        return p
    }

    static func write(_ name: String, _ bytes: [UInt8]) -> String {
        bytes.withUnsafeBytes { write(name, $0) }
    }
}

/// Creates or replaces the file at `path` with `bytes`.
func writeFile(_ path: String, _ bytes: UnsafeRawBufferPointer) {
    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
    precondition(fd >= 0, "fuzz: cannot create \(path)")
    var off = 0
    while off < bytes.count {
        let n = Glibc.write(fd, bytes.baseAddress! + off, bytes.count - off)
        precondition(n > 0, "fuzz: write to \(path) failed")
        off += n
    }
    close(fd)
}

/// The bytes of the file at `path` (empty if it cannot be read).
func readFile(_ path: String) -> [UInt8] {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { return [] }
    defer { close(fd) }
    var out: [UInt8] = []
    var buf = [UInt8](repeating: 0, count: 65536)
    while true {
        let n = buf.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress!, $0.count) }
        if n <= 0 { break }
        out += buf[0..<n]
    }
    return out
}

/// Reads the fuzz input front to back; past the end every read is 0.
struct FuzzBytes {
    let bytes: UnsafeRawBufferPointer
    var index = 0

    init(_ data: UnsafePointer<UInt8>?, _ size: Int) {
        bytes = UnsafeRawBufferPointer(start: data, count: data == nil ? 0 : size)
    }

    var atEnd: Bool { index >= bytes.count }
    var remaining: UnsafeRawBufferPointer { UnsafeRawBufferPointer(rebasing: bytes[min(index, bytes.count)...]) }

    mutating func byte() -> UInt8 {
        guard index < bytes.count else { return 0 }
        defer { index += 1 }
        return bytes[index]
    }

    mutating func u16() -> UInt16 { UInt16(byte()) | UInt16(byte()) << 8 }
    mutating func u32() -> UInt32 { UInt32(u16()) | UInt32(u16()) << 16 }
    mutating func u64() -> UInt64 { UInt64(u32()) | UInt64(u32()) << 32 }
    mutating func pick<T>(_ choices: [T]) -> T { choices[Int(byte()) % choices.count] }
}

/// gzip (RFC 1952) of `input` at level 6, as `gzip` would write it.
func gzipCompress(_ input: UnsafeRawBufferPointer) -> [UInt8] {
    var stream = z_stream()
    let rc = deflateInit2_(&stream, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY,
                           ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size))
    precondition(rc == Z_OK)
    defer { deflateEnd(&stream) }
    var out = [UInt8](repeating: 0, count: Int(deflateBound(&stream, UInt(input.count))) + 64)
    let produced: Int = out.withUnsafeMutableBytes { dst in
        stream.next_in = UnsafeMutablePointer(mutating: input.baseAddress?.assumingMemoryBound(to: UInt8.self))
        stream.avail_in = UInt32(input.count)
        stream.next_out = dst.baseAddress!.assumingMemoryBound(to: UInt8.self)
        stream.avail_out = UInt32(dst.count)
        let r = deflate(&stream, Z_FINISH)
        precondition(r == Z_STREAM_END, "deflate: \(r)")
        return dst.count - Int(stream.avail_out)
    }
    return Array(out.prefix(produced))
}

/// Stops the run with a message libFuzzer shows next to the crash (a broken property).
func propertyFailed(_ message: String) -> Never {
    fputs("FUZZ PROPERTY VIOLATED: \(message)\n", stderr)
    abort()
}

/// Reads a trace file completely: the events, or the TraceError it must end with.
func readTrace(_ path: String, keepGoing: Bool) -> (events: [TraceEvent], skipped: Int, error: TraceError?) {
    do {
        let reader = try TraceReader(path: path, options: .init(keepGoing: keepGoing, batchSize: 64))
        let events = try reader.readAll()
        return (events, reader.skippedEvents, nil)
    } catch let error as TraceError {
        return ([], 0, error)
    } catch {
        propertyFailed("a reader threw something that is not a TraceError: \(error)")
    }
}

/// The decoders' contract: a damaged trace is a data error (65), nothing else.
func expectDataError(_ error: TraceError?, _ what: String) {
    if let error, error.exitCode != 65 {
        propertyFailed("\(what): exit code \(error.exitCode) for damaged input: \(error)")
    }
}

/// Every event the readers deliver survives a write in both formats (gzip and not) and a read
/// back unchanged: the lossless conversion SPEC §1 promises. `fromText`: the events came from a
/// text trace, so the text writer must take them too.
func checkRoundTrip(_ events: [TraceEvent], _ what: String, fromText: Bool = false) {
    guard !events.isEmpty else { return }
    // A binary trace may carry file paths text cannot (`#`, NUL, edge blanks): the text writer
    // refuses those with a data error, by design (TraceWriter.write).
    let textOK = fromText || !events.contains { $0.textProblem != nil }
    for name in textOK ? ["rt.txt", "rt.vmt", "rt.vmt.gz"] : ["rt.vmt", "rt.vmt.gz"] {
        let path = Scratch.path(name)
        do {
            let writer = try TraceWriter(path: path)
            for e in events { try writer.write(e) }
            try writer.finish()
        } catch {
            propertyFailed("\(what): writing the decoded events to \(name) failed: \(error)")
        }
        let back = readTrace(path, keepGoing: false)
        if let error = back.error { propertyFailed("\(what): reading back \(name) failed: \(error)") }
        if back.events != events {
            let i = (0..<min(back.events.count, events.count)).first { back.events[$0] != events[$0] } ?? min(back.events.count, events.count)
            propertyFailed("\(what): \(name) round trip changed event \(i): \(i < events.count ? "\(events[i])" : "-") -> \(i < back.events.count ? "\(back.events[i])" : "-")")
        }
    }
}

/// Decodes the trace at `path` strictly and with --keep-going: damage is a data error, and a
/// trace that decodes strictly decodes the same, nothing skipped, with --keep-going. Returns
/// the strict result and the events to round-trip.
/// A trace read as the replay reads it: packed batches (`ReplayBatch`) with runs marked.
/// Checks that the decoder marks no run `AccessRunMap.mark` would not.
func readPacked(_ path: String, _ what: String) -> (events: [TraceEvent], error: TraceError?) {
    var events: [TraceEvent] = []
    do {
        let reader = try TraceReader(path: path, options: .init(batchSize: 64))
        var batch = ReplayBatch()
        while try reader.nextBatch(into: &batch) {
            let batchEvents = batch.events
            var reference = AccessRunMap()
            reference.mark(batchEvents)
            for (w, word) in batch.runs.words.enumerated() where word & ~reference.words[w] != 0 {
                propertyFailed("\(what): the decoder marked a run AccessRunMap.mark does not")
            }
            events += batchEvents
        }
        return (events, nil)
    } catch let error as TraceError {
        return (events, error)
    } catch {
        propertyFailed("a reader threw something that is not a TraceError: \(error)")
    }
}

func decodeBothWays(_ path: String, _ what: String) -> (strict: (events: [TraceEvent], skipped: Int, error: TraceError?), events: [TraceEvent]) {
    let strict = readTrace(path, keepGoing: false)
    expectDataError(strict.error, "\(what) strict")
    // The replay's packed path decodes exactly the same events and fails with the same error.
    let packed = readPacked(path, what)
    if packed.error?.description != strict.error?.description
        || (strict.error == nil && packed.events != strict.events)
    {
        propertyFailed("\(what): packed batches differ from plain ones: \(String(describing: packed.error)) vs \(String(describing: strict.error))")
    }
    let lenient = readTrace(path, keepGoing: true)
    expectDataError(lenient.error, "\(what) keep-going")
    if strict.error == nil, lenient.error != nil || lenient.skipped != 0 || lenient.events != strict.events {
        propertyFailed("\(what): a trace that decodes strictly decodes differently with --keep-going")
    }
    return (strict, lenient.error == nil ? lenient.events : strict.events)
}

/// The `binary` and `binary-gzip` checks: `decodeBothWays`, then: a file that must fail
/// (`mustFail` says why) does; a strict success cut one byte short fails; round trip.
func checkBinaryFile(_ file: [UInt8], _ what: String, mustFail: String? = nil) {
    let (strict, events) = decodeBothWays(Scratch.write("in.vmt", file), what)
    if strict.error == nil {
        if let mustFail {
            propertyFailed("\(what): \(mustFail), yet it decoded without an error (\(strict.events.count) events)")
        }
        // A strict success must have ended at the end record.
        if file.count > BinaryTrace.headerSize && file.first == 0x89 {
            let cut = readTrace(Scratch.write("cut.vmt", Array(file.dropLast())), keepGoing: false)
            if cut.error == nil { propertyFailed("\(what): the trace cut one byte short still decodes") }
        }
    }
    checkRoundTrip(events, what)
}
