// VMMapEntryList against a plain array: the same sequence after random insertions and removals
// in every order, position by position, and the same answers to address searches.
@testable import VMKernel
import XCTest

final class VMMapEntryListTests: XCTestCase {
    private func entry(_ page: UInt64) -> VMMapEntry {
        VMMapEntry(start: page << 13, end: (page << 13) + 4096, object: nil, offset: 0, eflags: [],
                   protection: .all, maxProtection: .all, subsystem: .mmap)
    }

    func testMatchesAnArrayUnderRandomEdits() {
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        func next(_ n: Int) -> Int {
            state ^= state << 13; state ^= state >> 7; state ^= state << 17
            return Int(state % UInt64(n))
        }
        var list = VMMapEntryList()
        var reference: [VMMapEntry] = []
        var pages = Set<UInt64>()
        for step in 0..<6000 {
            if reference.isEmpty || next(3) != 0 {
                var page = UInt64(next(100_000))
                while pages.contains(page) { page += 1 }
                pages.insert(page)
                let e = entry(page)
                let at = reference.firstIndex { $0.start > e.start } ?? reference.count
                reference.insert(e, at: at)
                list.insert(e, at: at)
            } else {
                let at = next(reference.count)
                pages.remove(reference[at].start >> 13)
                XCTAssertTrue(list.remove(at: at) === reference.remove(at: at), "step \(step)")
            }
            if step % 500 == 0 || step == 5999 {
                XCTAssertEqual(list.count, reference.count)
                XCTAssertTrue(zip(list, reference).allSatisfy { $0 === $1 }, "step \(step)")
                for _ in 0..<50 {
                    let va = UInt64(next(100_002)) << 13 + UInt64(next(8192))
                    let expected = reference.firstIndex { $0.end > va } ?? reference.count
                    XCTAssertEqual(list.firstIndex(endingAbove: va), expected, "step \(step) va \(va)")
                }
            }
        }
        list.removeSubrange(0..<list.count / 2)
        reference.removeSubrange(0..<reference.count / 2)
        XCTAssertTrue(zip(list, reference).allSatisfy { $0 === $1 })
    }

    func testDescendingInsertionsStayCheap() {
        // 200K entries inserted at the front, each at position 0: a sorted array would move
        // 2*10^10 pointers; the list moves at most one leaf per insertion.
        var list = VMMapEntryList()
        for page in (0..<200_000 as Range<UInt64>).reversed() { list.insert(entry(page), at: 0) }
        XCTAssertEqual(list.count, 200_000)
        XCTAssertEqual(list[0].start, 0)
        XCTAssertEqual(list[199_999].start, 199_999 << 13)
        XCTAssertEqual(list.firstIndex(endingAbove: (1000 << 13) + 5000), 1001)
    }
}
