// Inflate on its own thread. A gzip trace's physical limit is zlib's inflate; parsing the
// inflated bytes costs about as much again, so the two run concurrently: a background thread
// fills a small ring of chunks, the decoder copies out of them. Errors reach the decoder in
// stream order, after every byte that preceded them.

import Foundation

/// A `ByteInput` that runs another one on a background thread, `chunkCount` chunks ahead.
final class ThreadedInput: ByteInput {
    /// The state shared with the background thread (which must not keep `self` alive).
    private final class Ring: @unchecked Sendable {
        let condition = NSCondition()
        let chunkSize: Int
        let buffers: [UnsafeMutablePointer<UInt8>]
        /// Bytes in each filled chunk, and the file bytes consumed once it was produced.
        var lengths: [Int]
        var fileBytesAfter: [UInt64]
        var filled = 0 // chunks ready, starting at `head`
        var head = 0
        var finished = false
        var failure: Error?
        var cancelled = false

        init(chunkSize: Int, count: Int) {
            self.chunkSize = chunkSize
            buffers = (0..<count).map { _ in .allocate(capacity: chunkSize) }
            lengths = Array(repeating: 0, count: count)
            fileBytesAfter = Array(repeating: 0, count: count)
        }

        deinit { for b in buffers { b.deallocate() } }
    }

    static let chunkSize = 256 << 10
    static let chunkCount = 8

    private let ring: Ring
    private let innerCapacity: Int
    /// Read position inside the head chunk.
    @exclusivity(unchecked) private var offset = 0
    @exclusivity(unchecked) private var fileBytes: UInt64 = 0
    @exclusivity(unchecked) private var produced: UInt64 = 0
    @exclusivity(unchecked) private var done = false

    init(_ inner: ByteInput, chunkSize: Int = ThreadedInput.chunkSize, chunkCount: Int = ThreadedInput.chunkCount) {
        let ring = Ring(chunkSize: chunkSize, count: chunkCount)
        self.ring = ring
        innerCapacity = inner.bufferCapacity
        // The inner input moves to the producer thread: from here on only that thread uses it.
        let handOver = HandedOver(inner)
        let thread = Thread {
            ThreadedInput.produce(handOver.value, into: ring)
        }
        thread.stackSize = 512 << 10
        thread.start()
    }

    deinit {
        ring.condition.lock()
        ring.cancelled = true
        ring.condition.broadcast()
        ring.condition.unlock()
    }

    package var fileBytesConsumed: UInt64 { fileBytes }
    package var bytesProduced: UInt64 { produced }
    package var bufferCapacity: Int { innerCapacity + ring.chunkSize * ring.buffers.count }

    /// The background thread: fill chunks until the inner input ends, fails, or the reader
    /// goes away.
    private static func produce(_ inner: ByteInput, into ring: Ring) {
        var slot = 0
        while true {
            ring.condition.lock()
            // A full ring: sleep until the reader has emptied half of it, so the two threads
            // hand over in bursts rather than waking each other for every chunk.
            if ring.filled == ring.buffers.count {
                while ring.filled > ring.buffers.count / 2 && !ring.cancelled { ring.condition.wait() }
            }
            let stop = ring.cancelled
            ring.condition.unlock()
            if stop { return }
            var length = 0
            var error: Error?
            do {
                // Fill the chunk completely unless the stream ends: fewer hand-offs.
                while length < ring.chunkSize {
                    let n = try inner.read(into: ring.buffers[slot] + length, count: ring.chunkSize - length)
                    if n == 0 { break }
                    length += n
                }
            } catch let e {
                error = e
            }
            ring.condition.lock()
            if length > 0 {
                ring.lengths[slot] = length
                ring.fileBytesAfter[slot] = inner.fileBytesConsumed
                ring.filled += 1
                slot = (slot + 1) % ring.buffers.count
            }
            if error != nil || length < ring.chunkSize {
                ring.failure = error
                ring.finished = true
            }
            let over = ring.finished
            // The reader sleeps only on an empty ring.
            if ring.filled == 1 || over { ring.condition.broadcast() }
            ring.condition.unlock()
            if over { return }
        }
    }

    package func read(into dst: UnsafeMutablePointer<UInt8>, count: Int) throws -> Int {
        if done || count == 0 { return 0 }
        ring.condition.lock()
        while ring.filled == 0 && !ring.finished { ring.condition.wait() }
        if ring.filled == 0 {
            let failure = ring.failure
            ring.condition.unlock()
            done = true
            if let failure { throw failure }
            return 0
        }
        let slot = ring.head
        let length = ring.lengths[slot]
        ring.condition.unlock()

        let n = min(count, length - offset)
        memcpy(dst, ring.buffers[slot] + offset, n)
        offset += n
        produced += UInt64(n)
        if offset == length {
            offset = 0
            ring.condition.lock()
            fileBytes = ring.fileBytesAfter[slot]
            ring.head = (slot + 1) % ring.buffers.count
            ring.filled -= 1
            // The inflater sleeps until half the ring is free.
            if ring.filled == ring.buffers.count / 2 { ring.condition.broadcast() }
            ring.condition.unlock()
        }
        return n
    }
}

