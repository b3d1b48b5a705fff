// A trace file's identity for golden files: CRC-32 (zlib) of its bytes as stored, and its size.
import CZlib
import Glibc

public struct TraceChecksum: Equatable, Sendable, CustomStringConvertible {
    public var crc32: UInt32
    public var bytes: UInt64

    public init(crc32: UInt32, bytes: UInt64) {
        self.crc32 = crc32
        self.bytes = bytes
    }

    /// `crc32:0x1234abcd bytes:12345`
    public var description: String {
        let hex = String(crc32, radix: 16)
        return "crc32:0x" + String(repeating: "0", count: max(0, 8 - hex.count)) + hex + " bytes:\(bytes)"
    }

    /// Reads the file at `path` (not `-`) in 1 MiB chunks.
    public static func of(path: String) throws -> TraceChecksum {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else {
            throw TraceError(.noInput, file: path, "cannot open: \(String(cString: strerror(errno)))")
        }
        defer { close(fd) }
        let size = 1 << 20
        let buffer = UnsafeMutablePointer<UInt8>.allocate(capacity: size)
        defer { buffer.deallocate() }
        var crc = CZlib.crc32(0, nil, 0)
        var total: UInt64 = 0
        while true {
            let n = read(fd, buffer, size)
            if n < 0 {
                if errno == EINTR { continue }
                throw TraceError(.ioError, file: path, "read error: \(String(cString: strerror(errno)))")
            }
            if n == 0 { break }
            crc = CZlib.crc32(crc, buffer, uInt(n))
            total += UInt64(n)
        }
        return TraceChecksum(crc32: UInt32(truncatingIfNeeded: crc), bytes: total)
    }
}
