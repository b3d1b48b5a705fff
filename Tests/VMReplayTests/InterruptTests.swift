// Interrupted and failing runs of the built `vmreplay` (SPEC §2 exit codes): a SIGINT or SIGTERM
// while convert, sweep --plot, check --update or import lackey runs leaves no partial or
// temporary file and ends the process by that signal (shell status 130 / 143); an output
// directory that cannot be written is exit 73 naming the path; a full device (/dev/full) is an
// I/O error, exit 74, and a device, FIFO or /dev/stdout given as output is written in place,
// never replaced; a trace cut short (mid-record, mid-gzip-stream, on a pipe) is an error
// (exit 65), never a silent cut.
import Foundation
import XCTest

final class InterruptTests: XCTestCase {
    private var dir: URL!

    /// A 3M-access binary trace, generated once: long enough to interrupt.
    private static let bigTrace: String = {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("vmreplay-interrupt-\(getpid()).vmt.gz").path
        return path
    }()

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("vmreplay-interrupt-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: dir)
    }

    override class func tearDown() {
        try? FileManager.default.removeItem(atPath: bigTrace)
        super.tearDown()
    }

    private func file(_ name: String) -> String { dir.appendingPathComponent(name).path }
    private func contents() -> [String] { ((try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []).sorted() }

    private func executable() throws -> URL {
        let candidates = [
            URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("vmreplay"),
            Bundle.main.bundleURL.appendingPathComponent("vmreplay"),
        ]
        guard let found = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0.path) }) else {
            throw XCTSkip("vmreplay executable not found next to the test bundle")
        }
        return found
    }

    private func start(_ arguments: [String], stdin: FileHandle? = nil) throws -> (Process, Pipe) {
        let process = Process()
        process.executableURL = try executable()
        process.arguments = arguments
        process.standardOutput = FileHandle.nullDevice
        if let stdin { process.standardInput = stdin }
        let stderr = Pipe()
        process.standardError = stderr
        try process.run()
        return (process, stderr)
    }

    /// Runs to the end; returns the exit status and standard error.
    @discardableResult
    private func run(_ arguments: [String], stdin: FileHandle? = nil) throws -> (Int32, String) {
        let (process, stderr) = try start(arguments, stdin: stdin)
        let message = String(decoding: stderr.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        return (process.terminationStatus, message)
    }

    private func bigTrace() throws -> String {
        if !FileManager.default.fileExists(atPath: Self.bigTrace) {
            let (status, message) = try run(["gen", "synthetic", "--accesses", "3M", "--seed", "9",
                                             "--processes", "4", "--forks", "4", "-o", Self.bigTrace])
            XCTAssertEqual(status, 0, message)
        }
        return Self.bigTrace
    }

    private var smallTrace: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("Scenarios/03-fork-cow-both.vmtrace").path
    }

    /// Starts `arguments`, waits until `ready()` (or `delay` seconds), sends `sig`, and checks
    /// the process died of it and the scratch directory holds exactly `expected` afterwards.
    private func interrupt(_ arguments: [String], with sig: Int32, expected: [String],
                           ready: (() -> Bool)? = nil, delay: Double = 1.0,
                           file: StaticString = #filePath, line: UInt = #line) throws
    {
        let (process, _) = try start(arguments)
        let deadline = Date().addingTimeInterval(60)
        if let ready {
            while !ready() && process.isRunning && Date() < deadline { usleep(5_000) }
        } else {
            usleep(UInt32(delay * 1_000_000))
        }
        XCTAssertTrue(process.isRunning, "\(arguments[0]) finished before it could be interrupted", file: file, line: line)
        kill(process.processIdentifier, sig)
        process.waitUntilExit()
        XCTAssertEqual(process.terminationReason, .uncaughtSignal, "\(arguments[0])", file: file, line: line)
        XCTAssertEqual(process.terminationStatus, sig, "\(arguments[0]): the shell would see \(128 + sig)", file: file, line: line)
        XCTAssertEqual(contents(), expected, "\(arguments[0]) after signal \(sig)", file: file, line: line)
    }

    private func temporaryFileExists() -> Bool { contents().contains { $0.contains(".tmp-") } }

    // MARK: signals

    func testSignalDuringConvertLeavesNoFile() throws {
        let trace = try bigTrace()
        for sig in [SIGINT, SIGTERM] {
            try interrupt(["convert", trace, file("out.txt.gz")], with: sig, expected: [], ready: temporaryFileExists)
        }
    }

    /// Every catchable signal that ends a process (these left `.out.txt.gz.tmp-XXXX` behind).
    func testEveryTerminatingSignalLeavesNoFile() throws {
        let trace = try bigTrace()
        for sig in [SIGHUP, SIGQUIT, SIGPIPE, SIGALRM, SIGUSR1, SIGUSR2, SIGVTALRM, SIGPROF, SIGXCPU, SIGIO] {
            try interrupt(["convert", trace, file("out.txt.gz")], with: sig, expected: [], ready: temporaryFileExists)
        }
    }

    func testSignalDuringSweepPlotLeavesNoFile() throws {
        let trace = try bigTrace()
        for sig in [SIGINT, SIGTERM] {
            // --check-invariants: slow enough to be interrupted on any machine.
            try interrupt(["sweep", trace, "-s", "vm.prefault_pages=0,8,16", "--plot", file("p.svg"),
                           "-o", file("rows.csv"), "--format", "csv", "--no-progress", "--check-invariants"],
                          with: sig, expected: [], delay: 1.0)
        }
    }

    func testSignalDuringCheckUpdateKeepsTheOldGolden() throws {
        let trace = try bigTrace()
        let golden = file("golden.json")
        let (status, message) = try run(["check", trace, "--expect", golden, "--update", "-s", "vm.prefault_pages=4"])
        XCTAssertEqual(status, 0, message)
        let old = try String(contentsOfFile: golden, encoding: .utf8)
        for sig in [SIGINT, SIGTERM] {
            // --check-invariants keeps the replay busy for tens of seconds (the plain replay of
            // this trace takes under a second since the fast paths), so the signal lands mid-replay.
            try interrupt(["check", trace, "--expect", golden, "--update", "-s", "vm.prefault_pages=16",
                           "--check-invariants"], with: sig, expected: ["golden.json"], delay: 1.0)
            XCTAssertEqual(try String(contentsOfFile: golden, encoding: .utf8), old)
        }
    }

    func testSignalDuringImportLeavesNoFile() throws {
        // A Lackey log long enough to interrupt: the fixture's accesses, many times over.
        let fixture = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("VMTraceTests/Fixtures/lackey/true.lk.log.gz").path
        let logs = FileManager.default.temporaryDirectory.appendingPathComponent("vmreplay-interrupt-log-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: logs, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: logs) }
        let log = logs.appendingPathComponent("lk.31390.1.log").path
        let unzip = Process()
        unzip.executableURL = URL(fileURLWithPath: "/bin/sh")
        unzip.arguments = ["-c", "gzip -dc '\(fixture)' > '\(log)' && grep -E '^(I | [SLM] )' '\(log)' > '\(log).acc' && for i in $(seq 12); do cat '\(log).acc'; done >> '\(log)' && rm '\(log).acc'"]
        try unzip.run()
        unzip.waitUntilExit()
        guard unzip.terminationStatus == 0 else { throw XCTSkip("cannot unpack the Lackey fixture (gzip, grep)") }
        for sig in [SIGINT, SIGTERM] {
            try interrupt(["import", "lackey", log, "-o", file("imported.vmt.gz")], with: sig, expected: [],
                          ready: temporaryFileExists)
        }
    }

    // MARK: output errors

    func testUnwritableOutputDirectoryIsExit73() throws {
        var targets = [file("missing/out.vmt")]
        // A path under a regular file: ENOTDIR, even for root.
        FileManager.default.createFile(atPath: file("plain"), contents: Data())
        targets.append(file("plain/out.vmt"))
        if getuid() != 0 {
            try FileManager.default.createDirectory(atPath: file("ro"), withIntermediateDirectories: false,
                                                    attributes: [.posixPermissions: 0o555])
            targets.append(file("ro/out.vmt"))
        }
        for target in targets {
            for arguments in [["convert", smallTrace, target], ["replay", smallTrace, "-o", target],
                              ["sweep", smallTrace, "-s", "vm.prefault_pages=0,8", "--plot", target],
                              ["gen", "seq-anon", "--size", "64K", "-o", target]]
            {
                let (status, message) = try run(arguments)
                XCTAssertEqual(status, 73, "\(arguments): \(message)")
                XCTAssertTrue(message.contains(target), "\(arguments): the message names the path: \(message)")
            }
        }
    }

    /// A character device like /dev/full (the same device numbers when root may mknod one in the
    /// scratch directory, so a regression cannot replace the real one).
    private func fullDevice() throws -> String {
        guard getuid() == 0 else { return "/dev/full" }
        let path = file("full")
        // makedev(1, 7): the memory driver's "full" minor.
        guard mknod(path, S_IFCHR | 0o666, (1 << 8) | 7) == 0 else { throw XCTSkip("mknod failed") }
        return path
    }

    private func isCharacterDevice(_ path: String) -> Bool {
        var st = stat()
        return stat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFCHR
    }

    /// Found by these tests: an output path that was a device was replaced by a regular file
    /// (temporary file renamed over it), so `convert t.txt /dev/full` succeeded and, as root,
    /// `-o /dev/null` turned /dev/null into a file.
    func testFullDeviceIsExit74AndStaysADevice() throws {
        let full = try fullDevice()
        for arguments in [["convert", smallTrace, full], ["replay", smallTrace, "-o", full],
                          ["gen", "seq-anon", "--size", "1M", "-o", full]]
        {
            let (status, message) = try run(arguments)
            XCTAssertEqual(status, 74, "\(arguments): \(message)")
            XCTAssertTrue(message.contains("No space left on device"), "\(arguments): \(message)")
            XCTAssertTrue(isCharacterDevice(full), "\(arguments) replaced \(full)")
        }
        XCTAssertEqual(contents().filter { $0.contains(".tmp-") }, [])
    }

    func testFIFOOutputIsWrittenInPlace() throws {
        let fifo = file("fifo")
        guard mkfifo(fifo, 0o600) == 0 else { throw XCTSkip("mkfifo failed") }
        let reader = Process()
        reader.executableURL = URL(fileURLWithPath: "/bin/cat")
        reader.arguments = [fifo]
        let out = Pipe()
        reader.standardOutput = out
        try reader.run()
        let (status, message) = try run(["convert", smallTrace, fifo])
        // Had the FIFO been replaced, the reader would wait for a writer forever.
        let deadline = Date().addingTimeInterval(10)
        while reader.isRunning && Date() < deadline { usleep(10_000) }
        if reader.isRunning { reader.terminate() }
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        reader.waitUntilExit()
        XCTAssertEqual(status, 0, message)
        XCTAssertTrue(text.hasPrefix("vmtrace 1\n"), text)
        var st = stat()
        XCTAssertTrue(stat(fifo, &st) == 0 && (st.st_mode & S_IFMT) == S_IFIFO, "the FIFO was replaced")
    }

    // MARK: traces cut short

    func testTruncatedTracesAreErrors() throws {
        let source = smallTrace
        for name in ["t.vmt", "t.vmt.gz", "t.txt.gz"] {
            let (status, message) = try run(["convert", source, file(name)])
            XCTAssertEqual(status, 0, message)
            let bytes = try Data(contentsOf: URL(fileURLWithPath: file(name)))
            // Every cut that keeps the magic bytes: mid-record, mid-deflate, mid-trailer.
            for keep in stride(from: 10, to: bytes.count, by: max(1, bytes.count / 12)) {
                let cut = file("cut-" + name)
                try bytes.prefix(keep).write(to: URL(fileURLWithPath: cut))
                let (status, message) = try run(["replay", cut, "--format", "sysctl"])
                XCTAssertEqual(status, 65, "\(name) cut to \(keep) of \(bytes.count) bytes: \(message)")
                // The same bytes on a pipe (a producer that died mid-stream).
                let input = try FileHandle(forReadingFrom: URL(fileURLWithPath: cut))
                let (piped, _) = try run(["replay", "-", "--format", "sysctl"], stdin: input)
                XCTAssertEqual(piped, 65, "\(name) cut to \(keep) bytes, on standard input")
            }
        }
    }
}
