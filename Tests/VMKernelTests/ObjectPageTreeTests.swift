// ObjectPageTree (an object's rb_memq) against a plain dictionary: the same answers to lookups,
// counts and in-order range scans after random insertions and removals, at small, huge and
// level-crossing page indexes.
@testable import VMKernel
import XCTest

final class ObjectPageTreeTests: XCTestCase {
    func testMatchesADictionaryUnderRandomEdits() {
        var rng = SystemRandomNumberGenerator()
        let memory = PhysicalMemory(pages: 1024)
        let frames = (0..<512).map { _ in memory.allocateFrame(system: true)! }
        // Indexes around the 64^k level boundaries, and the largest an object can have.
        let interesting: [Int64] = [0, 1, 63, 64, 65, 4095, 4096, 4097, 262_143, 262_144,
                                    1 << 35, (1 << 35) - 1, Int64.max - 1, 1 << 62]
        for round in 0..<40 {
            var tree = ObjectPageTree()
            var reference: [Int64: VMPage] = [:]
            let spread: Int64 = round % 3 == 0 ? 200 : (round % 3 == 1 ? 70_000 : 1 << 40)
            for _ in 0..<600 {
                let pindex = Bool.random(using: &rng) ? interesting.randomElement(using: &rng)!
                    : Int64.random(in: 0..<spread, using: &rng)
                if let page = reference[pindex] {
                    XCTAssertEqual(tree.lookup(pindex), page)
                    tree.remove(at: pindex)
                    reference[pindex] = nil
                } else {
                    let page = frames.randomElement(using: &rng)!
                    tree.insert(page, at: pindex)
                    reference[pindex] = page
                }
                XCTAssertEqual(tree.count, reference.count)
            }
            for (pindex, page) in reference {
                XCTAssertEqual(tree.lookup(pindex), page, "pindex \(pindex)")
                if reference[pindex ^ 1] == nil {
                    XCTAssertNil(tree.lookup(pindex ^ 1), "pindex \(pindex ^ 1) found but never inserted")
                }
            }
            let ordered = reference.keys.sorted()
            XCTAssertEqual(tree.allPages, ordered.map { reference[$0]! })
            for _ in 0..<20 {
                let a = Int64.random(in: 0..<spread, using: &rng), b = Int64.random(in: 0..<spread, using: &rng)
                let (start, end) = (min(a, b), max(a, b))
                let expected = ordered.filter { $0 >= start && $0 < end }.map { reference[$0]! }
                XCTAssertEqual(tree.pages(from: start, to: end), expected,
                               "range \(start)..<\(end)")
                XCTAssertTrue(tree.pages(from: end, to: start).isEmpty || start == end)
            }
            // Emptying the tree frees its nodes and it works again from scratch.
            for pindex in ordered { tree.remove(at: pindex) }
            XCTAssertEqual(tree.count, 0)
            XCTAssertNil(tree.lookup(ordered.first ?? 0))
            tree.insert(frames[0], at: 7)
            XCTAssertEqual(tree.lookup(7), frames[0])
            XCTAssertEqual(tree.pages(from: -5, to: 8).count, 1, "a negative start is clipped to 0")
        }
    }

    /// A page's record is one 64-byte cache line (VMPage.swift): the per-page memory figure of
    /// scripts/bench.sh depends on it, so a field that grows it should be a conscious choice.
    func testAPageRecordIsOneCacheLine() {
        XCTAssertEqual(MemoryLayout<PageRecord>.stride, 64)
        XCTAssertEqual(MemoryLayout<VMPage?>.size, 8, "a page reference is one pointer")
    }
}
