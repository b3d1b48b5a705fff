// Plain file descriptors underneath every reader and writer: buffered input with peeking,
// unbuffered output, and output files that appear only when complete (temp file + rename).

import Glibc

/// A stream of bytes a decoder pulls from (a plain file or a gzip inflater over one).
package protocol ByteInput: AnyObject {
    /// Reads at most `count` bytes into `dst`; 0 means end of stream. Never returns 0 before
    /// the end.
    func read(into dst: UnsafeMutablePointer<UInt8>, count: Int) throws -> Int
    /// Bytes of the underlying file consumed so far (compressed bytes for gzip).
    var fileBytesConsumed: UInt64 { get }
    /// Bytes handed out by `read` so far (decompressed bytes for gzip).
    var bytesProduced: UInt64 { get }
    /// Bytes of buffers this input holds.
    var bufferCapacity: Int { get }
}

/// A sink an encoder pushes bytes into (a plain file or a gzip deflater over one).
protocol ByteOutput: AnyObject {
    func write(_ bytes: UnsafeRawBufferPointer) throws
    /// Flushes everything; the output is complete afterwards.
    func finish() throws
    /// Bytes of buffers this output holds.
    var bufferCapacity: Int { get }
}

func errnoText(_ code: Int32 = errno) -> String {
    String(cString: strerror(code))
}

/// A readable file descriptor with a read buffer that also serves as the gzip input window.
package final class FileInput: ByteInput {
    static let defaultCapacity = 256 << 10

    let name: String
    private let fd: Int32
    private let ownsDescriptor: Bool
    /// The file's size when it is a regular file.
    let fileSize: UInt64?
    private let storage: UnsafeMutablePointer<UInt8>
    let capacity: Int
    /// Unconsumed bytes are `storage[lo..<hi]`.
    @exclusivity(unchecked) private var lo = 0
    @exclusivity(unchecked) private var hi = 0
    private var bytesFromDescriptor: UInt64 = 0
    private var produced: UInt64 = 0
    private(set) var atEndOfFile = false

    /// Opens `path` (`-` = standard input) for reading. Missing or unreadable files and
    /// directories are `.noInput` errors.
    package init(path: String, capacity: Int = FileInput.defaultCapacity) throws {
        name = displayName(forPath: path)
        if path == "-" {
            fd = 0
            ownsDescriptor = false
        } else {
            let d = open(path, O_RDONLY | O_CLOEXEC)
            guard d >= 0 else {
                throw TraceError(.noInput, file: name, "cannot open: \(errnoText())")
            }
            fd = d
            ownsDescriptor = true
        }
        var st = stat()
        if fstat(fd, &st) == 0 {
            if (st.st_mode & S_IFMT) == S_IFDIR {
                if ownsDescriptor { close(fd) }
                throw TraceError(.noInput, file: name, "is a directory")
            }
            fileSize = (st.st_mode & S_IFMT) == S_IFREG ? UInt64(st.st_size) : nil
        } else {
            fileSize = nil
        }
        self.capacity = capacity
        storage = .allocate(capacity: capacity)
    }

    deinit {
        if ownsDescriptor { close(fd) }
        storage.deallocate()
    }

    package var bufferCapacity: Int { capacity }
    package var fileBytesConsumed: UInt64 { bytesFromDescriptor - UInt64(hi - lo) }
    package var bytesProduced: UInt64 { produced }

    /// The buffered, unconsumed bytes.
    var pending: UnsafeMutableBufferPointer<UInt8> {
        UnsafeMutableBufferPointer(start: storage + lo, count: hi - lo)
    }

    func consume(_ n: Int) {
        lo += n
        produced += UInt64(n)
    }

    /// Reads from the descriptor into `dst`, retrying on EINTR.
    private func readDescriptor(_ dst: UnsafeMutablePointer<UInt8>, _ count: Int) throws -> Int {
        while true {
            let n = Glibc.read(fd, dst, count)
            if n >= 0 {
                bytesFromDescriptor += UInt64(n)
                if n == 0 { atEndOfFile = true }
                return n
            }
            if errno == EINTR { continue }
            let code: TraceError.Code = errno == EISDIR ? .noInput : .ioError
            throw TraceError(code, file: name, at: .byte(bytesFromDescriptor), "read error: \(errnoText())")
        }
    }

    /// Makes sure some bytes are pending (reading more when none are); false at end of file.
    func fill() throws -> Bool {
        if lo < hi { return true }
        lo = 0
        hi = 0
        if atEndOfFile { return false }
        hi = try readDescriptor(storage, capacity)
        return hi > 0
    }

    /// Makes at least `n` bytes pending unless the file ends first; returns the pending bytes.
    package func peek(_ wanted: Int) throws -> UnsafeMutableBufferPointer<UInt8> {
        let n = min(wanted, capacity)
        if hi - lo < n && lo > 0 {
            memmove(storage, storage + lo, hi - lo)
            hi -= lo
            lo = 0
        }
        while hi - lo < n && !atEndOfFile {
            hi += try readDescriptor(storage + hi, capacity - hi)
        }
        return pending
    }

    package func read(into dst: UnsafeMutablePointer<UInt8>, count: Int) throws -> Int {
        if lo < hi {
            let n = min(count, hi - lo)
            dst.update(from: storage + lo, count: n)
            consume(n)
            return n
        }
        if atEndOfFile { return 0 }
        // Nothing buffered: read straight into the caller's buffer.
        let n = try readDescriptor(dst, count)
        produced += UInt64(n)
        return n
    }
}

/// A writable file descriptor (no buffering: encoders hand over large blocks).
final class FileOutput: ByteOutput {
    let name: String
    let fd: Int32
    private(set) var bytesWritten: UInt64 = 0

    init(fd: Int32, name: String) {
        self.fd = fd
        self.name = name
    }

    package var bufferCapacity: Int { 0 }

    func write(_ bytes: UnsafeRawBufferPointer) throws {
        guard var p = bytes.baseAddress else { return }
        var left = bytes.count
        while left > 0 {
            let n = Glibc.write(fd, p, left)
            if n < 0 {
                if errno == EINTR { continue }
                throw TraceError(.ioError, file: name, "write error: \(errnoText())")
            }
            p += n
            left -= n
            bytesWritten += UInt64(n)
        }
    }

    func finish() throws {}
}

// MARK: - Output files that appear only when complete

/// Temporary files that a signal must not leave behind. A fixed table of C strings, so the
/// signal handler touches no Swift runtime state.
enum TemporaryFiles {
    static let slots = 32
    nonisolated(unsafe) static let table: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?> = {
        let t = UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>.allocate(capacity: slots)
        t.initialize(repeating: nil, count: slots)
        return t
    }()

    static func register(_ path: UnsafeMutablePointer<CChar>) {
        for i in 0..<slots where table[i] == nil {
            table[i] = path
            return
        }
    }

    static func unregister(_ path: UnsafeMutablePointer<CChar>) {
        for i in 0..<slots where table[i] == path {
            table[i] = nil
        }
    }
}

/// Installs handlers for every catchable signal whose default action ends the process (SIGINT,
/// SIGTERM, SIGHUP, SIGPIPE, SIGUSR1, SIGALRM, ...) that delete the temporary files of
/// unfinished outputs, then die of the signal as before. Call once from a command that writes
/// files. Left out: SIGKILL and SIGSTOP (cannot be caught: a killed run can leave a hidden
/// `.NAME.tmp-XXXXXX` beside the output, README "Commands") and the crash signals (SIGSEGV,
/// SIGBUS, SIGILL, SIGFPE, SIGTRAP, SIGABRT), which the Swift runtime's backtracer reports.
public func installOutputCleanupOnSignals() {
    let handler: @convention(c) (Int32) -> Void = { sig in
        for i in 0..<TemporaryFiles.slots {
            if let p = TemporaryFiles.table[i] { unlink(p) }
        }
        signal(sig, nil)  // SIG_DFL
        raise(sig)
    }
    for sig in [SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGPIPE, SIGALRM, SIGUSR1, SIGUSR2, SIGVTALRM,
                SIGPROF, SIGXCPU, SIGXFSZ, SIGIO, SIGPWR, SIGSTKFLT, SIGSYS]
    {
        signal(sig, handler)
    }
}

/// An output file written under a temporary name in the destination directory and renamed
/// into place by `commit()`. Without `commit()` (an error, a signal, `discard()`), the
/// temporary file is deleted and nothing appears at the destination. `-` is standard output.
final class OutputFile {
    let path: String
    let output: FileOutput
    private var tempPath: UnsafeMutablePointer<CChar>?
    private var open = true

    var isStandardOutput: Bool { tempPath == nil }

    init(path: String) throws {
        self.path = path
        if path == "-" {
            output = FileOutput(fd: 1, name: "<stdout>")
            return
        }
        var st = stat()
        let exists = stat(path, &st) == 0
        if exists, (st.st_mode & S_IFMT) != S_IFREG, (st.st_mode & S_IFMT) != S_IFDIR {
            // A device, FIFO or socket (/dev/null, /dev/full, /dev/stdout, a pipe) is written in
            // place: renaming a temporary file over it would replace the node itself.
            let fd = Glibc.open(path, O_WRONLY | O_CLOEXEC)
            guard fd >= 0 else { throw TraceError(.cannotCreate, file: path, "cannot open: \(errnoText())") }
            output = FileOutput(fd: fd, name: path)
            return
        }
        let slash = path.lastIndex(of: "/")
        let dir = slash.map { String(path[..<$0]) } ?? "."
        let base = slash.map { String(path[path.index(after: $0)...]) } ?? path
        guard !base.isEmpty else {
            throw TraceError(.cannotCreate, file: path, "not a file name")
        }
        let template = (dir.isEmpty ? "" : dir) + "/." + base + ".tmp-XXXXXX"
        let buffer = UnsafeMutablePointer<CChar>.allocate(capacity: template.utf8.count + 1)
        template.withCString { buffer.initialize(from: $0, count: template.utf8.count + 1) }
        // Registered before mkstemp creates the file: a signal right after the file appears
        // (registered only afterwards, it stayed behind; a loaded CI machine made the window
        // wide enough) now finds its name. mkstemp writes the name into this buffer before it
        // creates the file, so earlier the handler's unlink finds nothing, harmlessly.
        TemporaryFiles.register(buffer)
        let fd = mkstemp(buffer)
        guard fd >= 0 else {
            let message = errnoText()
            TemporaryFiles.unregister(buffer)
            buffer.deallocate()
            throw TraceError(.cannotCreate, file: path, "cannot create: \(message)")
        }
        tempPath = buffer
        let mask = umask(0)
        umask(mask)
        // A replaced file keeps its permissions (a 0600 report stayed private only until it was
        // rewritten); a new one gets the usual 0666 less the umask.
        fchmod(fd, exists && (st.st_mode & S_IFMT) == S_IFREG ? st.st_mode & 0o777 : 0o666 & ~mask)
        output = FileOutput(fd: fd, name: path)
    }

    deinit { discard() }

    /// Closes the file and moves it into place.
    func commit() throws {
        guard open else { return }
        open = false
        guard let temp = tempPath else { return }
        defer {
            TemporaryFiles.unregister(temp)
            temp.deallocate()
            tempPath = nil
        }
        if close(output.fd) != 0 {
            let message = errnoText()
            unlink(temp)
            throw TraceError(.ioError, file: path, "write error: \(message)")
        }
        if rename(temp, path) != 0 {
            let message = errnoText()
            unlink(temp)
            throw TraceError(.cannotCreate, file: path, "cannot create: \(message)")
        }
    }

    /// Closes and deletes the temporary file (no-op after `commit()`).
    func discard() {
        guard open else { return }
        open = false
        guard let temp = tempPath else { return }
        close(output.fd)
        unlink(temp)
        TemporaryFiles.unregister(temp)
        temp.deallocate()
        tempPath = nil
    }
}
