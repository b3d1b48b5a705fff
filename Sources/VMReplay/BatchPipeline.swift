// Decode on one thread, simulate on others: a reader thread fills batches of events into a
// bounded queue, marking their runs of same-page accesses (AccessRunMap) on the way; the consumer
// hands each batch to every engine. Batch arrays are recycled so the steady state allocates
// nothing.
import Foundation
import VMTrace

/// A bounded queue of event batches between the decoding thread and the consumer.
final class BatchQueue: @unchecked Sendable {
    private let condition = NSCondition()
    private var full: [(batch: ReplayBatch, progress: TraceProgress)] = []
    private var empty: [ReplayBatch] = []
    private let capacity: Int
    private var finished = false
    private var cancelled = false
    private(set) var failure: Error?

    init(capacity: Int) {
        self.capacity = capacity
    }

    /// Producer: an array to fill (recycled when possible).
    func emptyBatch() -> ReplayBatch {
        condition.lock()
        defer { condition.unlock() }
        return empty.popLast() ?? ReplayBatch()
    }

    /// Producer: blocks while the queue is full. False when the consumer has cancelled.
    func put(_ batch: ReplayBatch, _ progress: TraceProgress) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        // A full queue: sleep until the consumer has taken half of it (hand-overs in bursts,
        // not a wake-up per batch).
        if full.count >= capacity {
            while full.count > capacity / 2 && !cancelled { condition.wait() }
        }
        if cancelled { return false }
        full.append((batch, progress))
        // The consumer sleeps only on an empty queue.
        if full.count == 1 { condition.broadcast() }
        return true
    }

    /// Producer: no more batches (with the error that stopped it, if any).
    func finish(_ error: Error?) {
        condition.lock()
        finished = true
        failure = error
        condition.broadcast()
        condition.unlock()
    }

    /// Consumer: the next batch, or nil at the end. Blocks while the queue is empty.
    func take() -> (batch: ReplayBatch, progress: TraceProgress)? {
        condition.lock()
        defer { condition.unlock() }
        while full.isEmpty && !finished { condition.wait() }
        if full.isEmpty { return nil }
        let b = full.removeFirst()
        if full.count == capacity / 2 { condition.broadcast() }
        return b
    }

    /// Consumer: gives a processed batch back for reuse.
    func recycle(_ batch: ReplayBatch) {
        condition.lock()
        if empty.count < capacity + 2 { empty.append(batch) }
        condition.unlock()
    }

    /// Consumer: stop the producer early.
    func cancel() {
        condition.lock()
        cancelled = true
        condition.broadcast()
        condition.unlock()
    }
}

/// Reads a trace on a background thread and feeds its batches to `consume`.
enum BatchPipeline {
    /// Runs `consume` for every batch, in order, on the calling thread. The reader's errors are
    /// rethrown after the batches read before them were consumed.
    /// `consume` gets each batch with the reader's progress as of the end of that batch (read on
    /// the reader's thread, so the two threads share nothing but the queue). A ReplayError
    /// `consume` throws comes out as the reader's data error naming the event's line or byte
    /// offset (`TraceReader.dataError(_:)`).
    static func run(reader: TraceReader, queueDepth: Int = 16,
                    consume: (ReplayBatch, TraceProgress) throws -> Void) throws
    {
        let queue = BatchQueue(capacity: queueDepth)
        // The reader belongs to the producer thread until it ends (the caller joins it below).
        let handOver = HandedOver(reader)
        let producer = Thread {
            let reader = handOver.value
            var error: Error?
            do {
                while true {
                    var batch = queue.emptyBatch()
                    guard try reader.nextBatch(into: &batch) else { break }
                    if !queue.put(batch, reader.progress) { break }
                }
            } catch let e {
                error = e
            }
            queue.finish(error)
        }
        producer.stackSize = 1 << 20
        producer.start()
        do {
            while let item = queue.take() {
                try consume(item.batch, item.progress)
                queue.recycle(item.batch)
            }
        } catch {
            queue.cancel()
            while queue.take() != nil {}
            if let refusal = error as? ReplayError { throw reader.dataError(refusal) }
            throw error
        }
        if let failure = queue.failure { throw failure }
    }
}
