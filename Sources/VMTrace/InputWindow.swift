// The decoders' view of a byte stream: one fixed buffer that is refilled in large chunks.
// Memory stays constant whatever the trace length; the decoders parse straight out of it.

import Glibc

/// A sliding window over a `ByteInput`: the unparsed bytes are `base[pos..<end]`.
package final class InputWindow {
    package static let defaultCapacity = 1 << 20

    package let input: ByteInput
    package let name: String
    package let base: UnsafeMutablePointer<UInt8>
    package let capacity: Int
    @exclusivity(unchecked) package var pos = 0
    @exclusivity(unchecked) package var end = 0
    @exclusivity(unchecked) private(set) var atEnd = false
    /// Stream offset of `base[0]`.
    @exclusivity(unchecked) private(set) var baseOffset: UInt64 = 0

    package init(input: ByteInput, name: String, capacity: Int = InputWindow.defaultCapacity) {
        self.input = input
        self.name = name
        self.capacity = capacity
        base = .allocate(capacity: capacity)
    }

    deinit { base.deallocate() }

    /// Unparsed bytes in the window.
    package var available: Int { end - pos }

    /// Stream offset of `base[index]`.
    @inline(__always)
    package func offset(of index: Int) -> UInt64 { baseOffset + UInt64(index) }

    /// Moves the unparsed bytes to the front and reads once more into the free space.
    /// Returns false when nothing was added (end of stream, or the window is full).
    @discardableResult
    package func refill() throws -> Bool {
        if pos > 0 {
            let keep = end - pos
            if keep > 0 { memmove(base, base + pos, keep) }
            baseOffset += UInt64(pos)
            end = keep
            pos = 0
        }
        guard !atEnd, end < capacity else { return false }
        let n = try input.read(into: base + end, count: capacity - end)
        if n == 0 {
            atEnd = true
            return false
        }
        end += n
        return true
    }

    /// Makes at least `n` unparsed bytes available unless the stream ends first.
    /// Returns whether they are.
    package func ensure(_ n: Int) throws -> Bool {
        while end - pos < n {
            if try !refill() { return end - pos >= n }
        }
        return true
    }
}
