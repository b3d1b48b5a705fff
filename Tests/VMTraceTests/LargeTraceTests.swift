// A trace far larger than any buffer goes through gzip and back in bounded memory: the
// reader's and writer's buffers have fixed capacities whatever the trace's length.

import XCTest
@testable import VMTrace
@testable import VMWorkloads

final class LargeTraceTests: TraceTestCase {
    func testFiftyMegabyteGzipRoundTripInBoundedMemory() throws {
        let workload = SyntheticWorkload(accesses: 3_000_000, seed: 42)
        let path = scratch.file("big.txt.gz")
        let writer = try TraceWriter(path: path, compressionLevel: 1)
        let writerBuffers = writer.bufferCapacity
        try workload.write(to: writer)
        XCTAssertEqual(writer.bufferCapacity, writerBuffers)
        try writer.finish()

        let reader = try TraceReader(path: path)
        let readerBuffers = reader.bufferCapacity
        var expected = workload.makeIterator()
        var batch: [TraceEvent] = []
        var count = 0
        var largestBatchCapacity = 0
        while try reader.nextBatch(into: &batch) {
            largestBatchCapacity = max(largestBatchCapacity, batch.capacity)
            for event in batch {
                guard event == expected.next() else {
                    return XCTFail("event \(count) differs: \(event)")
                }
                count += 1
            }
        }
        XCTAssertNil(expected.next(), "reader stopped early after \(count) events")
        let progress = reader.progress
        XCTAssertGreaterThanOrEqual(progress.rawBytesRead, 50_000_000, "the trace must be at least 50 MB uncompressed")
        XCTAssertEqual(progress.fileBytesRead, progress.fileSize)
        XCTAssertEqual(progress.events, UInt64(count))
        // Bounded memory: fixed buffers, independent of the 50+ MB that went through them.
        XCTAssertEqual(reader.bufferCapacity, readerBuffers)
        XCTAssertLessThanOrEqual(readerBuffers, 2 << 20)
        XCTAssertLessThanOrEqual(writerBuffers, 2 << 20)
        XCTAssertLessThanOrEqual(largestBatchCapacity, 2 * reader.options.batchSize)
        XCTAssertLessThan(progress.fileBytesRead, progress.rawBytesRead / 3)
    }
}
