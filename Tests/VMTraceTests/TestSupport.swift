// Helpers shared by the VMTrace tests: scratch directories, traces from strings, expected
// errors, and a generator of random valid event sequences.

import Foundation
import XCTest
@testable import VMTrace
@testable import VMWorkloads

/// A fresh directory under the system temp dir, removed by `cleanUp()`.
final class ScratchDirectory {
    let path: String

    init() {
        let base = NSTemporaryDirectory() + "vmtrace-tests-" + UUID().uuidString
        try? FileManager.default.createDirectory(atPath: base, withIntermediateDirectories: true)
        path = base
    }

    func file(_ name: String) -> String { path + "/" + name }

    /// Names of the entries in the directory (temporary files included).
    func contents() -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).sorted()
    }

    func write(_ name: String, _ text: String) -> String {
        let p = file(name)
        _ = FileManager.default.createFile(atPath: p, contents: Data(text.utf8))
        return p
    }

    func write(_ name: String, bytes: [UInt8]) -> String {
        let p = file(name)
        _ = FileManager.default.createFile(atPath: p, contents: Data(bytes))
        return p
    }

    func read(_ name: String) -> [UInt8] {
        (FileManager.default.contents(atPath: file(name))).map { [UInt8]($0) } ?? []
    }

    func exists(_ name: String) -> Bool { FileManager.default.fileExists(atPath: file(name)) }

    func cleanUp() { try? FileManager.default.removeItem(atPath: path) }
}

class TraceTestCase: XCTestCase {
    var scratch: ScratchDirectory!

    override func setUp() {
        super.setUp()
        scratch = ScratchDirectory()
    }

    override func tearDown() {
        scratch.cleanUp()
        super.tearDown()
    }

    /// Parses `text` as a trace file.
    func parse(_ text: String, keepGoing: Bool = false, file: String = "t.txt") throws -> [TraceEvent] {
        let path = scratch.write(file, text)
        return try TraceReader.readAll(path: path, options: .init(keepGoing: keepGoing))
    }

    /// Parses `text` and returns the error it must raise.
    func parseError(_ text: String, file: StaticString = #filePath, line: UInt = #line) -> TraceError? {
        do {
            let events = try parse(text)
            XCTFail("expected an error, parsed \(events.count) events", file: file, line: line)
            return nil
        } catch let error as TraceError {
            return error
        } catch {
            XCTFail("unexpected error type \(error)", file: file, line: line)
            return nil
        }
    }

    /// Writes `events` with a `TraceWriter` at `name` (format from the name).
    @discardableResult
    func writeTrace(_ events: [TraceEvent], _ name: String, level: Int = 6) throws -> String {
        let path = scratch.file(name)
        let writer = try TraceWriter(path: path, compressionLevel: level)
        try writer.write(contentsOf: events)
        try writer.finish()
        return path
    }

    /// Checks that the error of `body` is a TraceError with `code` (and returns it).
    func expectTraceError<T>(_ code: TraceError.Code, file: StaticString = #filePath, line: UInt = #line,
                             _ body: () throws -> T) -> TraceError? {
        do {
            _ = try body()
            XCTFail("expected a \(code) error", file: file, line: line)
        } catch let error as TraceError {
            XCTAssertEqual(error.code, code, "\(error)", file: file, line: line)
            return error
        } catch {
            XCTFail("unexpected error type \(error)", file: file, line: line)
        }
        return nil
    }
}

/// Random sequences of valid events of every kind, with awkward values (large pids that
/// collide in the binary format's pid table, addresses near 2^64, long paths, Unicode).
struct RandomTraceGenerator {
    var rng: Xoshiro256StarStar
    private var live: [UInt32] = []
    private var files: [UInt32] = []
    private var nextFile: UInt32 = 0

    init(seed: UInt64) { rng = Xoshiro256StarStar(seed: seed) }

    private mutating func pick<T>(_ xs: [T]) -> T { xs[Int(rng.below(UInt64(xs.count)))] }

    private mutating func newPid() -> UInt32 {
        while true {
            let pid: UInt32
            switch rng.below(4) {
            case 0: pid = UInt32(1 + rng.below(8))
            case 1: pid = UInt32(1 + rng.below(4)) * 256 + 1  // same table slot as pid 1
            case 2: pid = UInt32.max - UInt32(rng.below(3))
            default: pid = UInt32(1 + rng.below(100_000))
            }
            if !live.contains(pid) { return pid }
        }
    }

    private mutating func address() -> UInt64 {
        switch rng.below(4) {
        case 0: return rng.below(1 << 20)
        case 1: return 0x7fff_0000_0000 + rng.below(1 << 32)
        case 2: return UInt64.max - rng.below(1 << 16)
        default: return rng.next()
        }
    }

    /// A page-aligned range that does not overflow.
    private mutating func range() -> (UInt64, UInt64) {
        let pages = 1 + rng.below(rng.percent(90) ? 64 : 1 << 30)
        let length = pages * 4096
        let maxStartPage = (UInt64.max - length) / 4096
        let start = (rng.percent(50) ? rng.below(1 << 24) : rng.below(maxStartPage)) * 4096
        return (start, length)
    }

    private mutating func path() -> String {
        if rng.percent(20) { return "" }
        let pieces = ["/usr/lib/", "libc.so", "a b", "é", "日本", "x\ty", "data", "-", "resident", ".", "0x10"]
        var s = ""
        for _ in 0..<(1 + rng.below(5)) { s += pick(pieces) }
        if rng.percent(3) { s = String(repeating: "p", count: 5000) }
        return s.trimmingCharacters(in: .whitespaces)
    }

    mutating func events(_ count: Int) -> [TraceEvent] {
        var out: [TraceEvent] = []
        while out.count < count {
            if live.isEmpty {
                let pid = newPid()
                live.append(pid)
                out.append(.proc(pid: pid, threads: 1))
                continue
            }
            let pid = pick(live)
            switch rng.below(22) {
            case 0:
                var p = path()
                let resident = rng.percent(50)
                if !resident && p.hasPrefix("resident") { p = "r/" + p }
                out.append(.file(id: nextFile, size: rng.percent(50) ? rng.below(1 << 40) : rng.next(),
                                 resident: resident, path: TracePath(p)))
                files.append(nextFile)
                nextFile += UInt32(1 + rng.below(1000))
            case 1:
                let p = newPid()
                live.append(p)
                out.append(.proc(pid: p, threads: rng.percent(50) ? 1 : UInt32(1 + rng.below(UInt64(UInt32.max)))))
            case 2:
                out.append(.threads(pid: pid, count: UInt32(1 + rng.below(64))))
            case 3:
                let child = newPid()
                live.append(child)
                out.append(.fork(parent: pid, child: child))
            case 4:
                out.append(.exec(pid: pid))
            case 5:
                live.removeAll { $0 == pid }
                out.append(.exit(pid: pid))
            case 6, 7:
                let (a, l) = range()
                let fileID: UInt32? = files.isEmpty || rng.percent(40) ? nil : pick(files)
                let offset = rng.percent(50) ? 0 : rng.below((UInt64.max - l) / 4096) * 4096
                out.append(.mmap(Mapping(pid: pid, address: a, length: l,
                                         protection: Protection(rawValue: UInt8(rng.below(8))),
                                         flags: MmapFlags(rawValue: UInt8(rng.below(64))),
                                         fileID: fileID, offset: offset)))
            case 8:
                let (a, l) = range()
                out.append(.munmap(pid: pid, address: a, length: l))
            case 9:
                let (a, l) = range()
                out.append(.mprotect(pid: pid, address: a, length: l, protection: Protection(rawValue: UInt8(rng.below(8)))))
            case 10:
                let (a, l) = range()
                out.append(.madvise(pid: pid, address: a, length: l, advice: pick(Advice.allCases)))
            case 11:
                let (a, l) = range()
                out.append(rng.percent(50) ? .mlock(pid: pid, address: a, length: l) : .munlock(pid: pid, address: a, length: l))
            case 12:
                out.append(.dropCaches)
            case 13:
                let (a, l) = range()
                out.append(.setmap(pid: pid, address: a, length: l, value: rng.percent(50) ? rng.next() : rng.below(1 << 20)))
            case 14:
                out.append(.store(pid: pid, address: address() & ~7, value: rng.percent(30) ? 0 : rng.next()))
            default:
                // Accesses, often in runs so deltas repeat.
                let kind = pick(AccessKind.allCases)
                var a = address()
                let stride = pick([0, 1, 4, 8, 64, 0 &- 8, rng.next()] as [UInt64])
                for _ in 0..<(1 + rng.below(6)) {
                    var size: UInt32 = kind.hasSize ? pick([1, 2, 4, 8, 3, UInt32(1 + rng.below(1 << 20)), UInt32.max]) : 1
                    if a.addingReportingOverflow(UInt64(size) - 1).overflow { size = 1 }
                    out.append(.access(Access(kind: kind, pid: pid, address: a, size: size)))
                    a &+= stride
                }
            }
        }
        return out
    }
}
