// Helpers every subcommand shares: printing errors the way the project prints them
// (`vmreplay: FILE:LINE: message`) and turning them into sysexits exit codes.

import ArgumentParser
import Glibc
import VMTrace

/// Writes all of `text` to file descriptor `fd`; the errno of a failed write, or nil.
@discardableResult
private func writeAll(_ fd: Int32, _ text: String) -> Int32? {
    var text = text
    return text.withUTF8 { bytes -> Int32? in
        var p = bytes.baseAddress
        var left = bytes.count
        while left > 0, let q = p {
            let n = write(fd, q, left)
            if n < 0 && errno == EINTR { continue }
            if n < 0 { return errno }
            if n == 0 { return EIO }
            p = q + n
            left -= n
        }
        return nil
    }
}

/// Writes `line` and a newline to standard error (nowhere to report it if that fails).
func printToStandardError(_ line: String) { writeAll(2, line + "\n") }

/// Writes `text` to standard output as is. A failed write (a full disk, /dev/full, a closed
/// stdout) is an I/O error (exit 74): a result that did not arrive must not look like one that
/// did.
func printToStandardOutput(_ text: String) throws {
    if let error = writeAll(1, text) {
        throw TraceError(.ioError, file: "<stdout>", "write error: \(String(cString: strerror(error)))")
    }
}

/// Runs `body`; a `TraceError` is printed to stderr (`vmreplay: FILE:LINE: message`) and the
/// command exits with its sysexits code (64, 65, 66, 73, 74).
func runReportingErrors(_ body: () throws -> Void) throws {
    do {
        try body()
    } catch let error as TraceError {
        printToStandardError(error.description)
        throw ExitCode(error.exitCode)
    }
}

/// The `--keep-going` summary: how many events were skipped, and the first few reasons.
func reportSkipped(_ count: Int, _ samples: [TraceError]) {
    guard count > 0 else { return }
    for error in samples { printToStandardError(error.description + " (skipped)") }
    if count > samples.count {
        printToStandardError("vmreplay: ... and \(count - samples.count) more")
    }
    printToStandardError("vmreplay: warning: skipped \(count) bad event\(count == 1 ? "" : "s") (--keep-going)")
}

/// A count given with an optional K/M/G suffix (decimal multiples: 10M = 10,000,000).
struct Count: ExpressibleByArgument {
    var value: Int

    init(_ value: Int) { self.value = value }

    init?(argument: String) {
        var digits = Substring(argument)
        var multiplier = 1
        switch digits.last {
        case "k", "K": multiplier = 1_000
        case "m", "M": multiplier = 1_000_000
        case "g", "G": multiplier = 1_000_000_000
        default: break
        }
        if multiplier != 1 { digits = digits.dropLast() }
        guard let n = Int(digits), n >= 0 else { return nil }
        let (v, overflow) = n.multipliedReportingOverflow(by: multiplier)
        guard !overflow else { return nil }
        value = v
    }
}

/// Refuses (exit 64) to write `output` when it names one of `inputs` (the same path, or the
/// same file through a symbolic or hard link): the result would replace what it was made from.
func refuseOutputOverInput(_ output: String?, option: String, inputs: [String]) throws {
    guard let output else { return }
    for input in inputs where TraceConversion.sameFile(input, output) {
        throw TraceError(.usage, "\(option) \(output) is the input \(input); refusing to overwrite it")
    }
}
