// VMMap's lookup hint (map->hint) never answers differently from a search of the entries:
// random mmap, munmap and mprotect over partial ranges (clips, merges, holes), each followed by
// lookups at and around entry bounds, the hinted answer compared with a linear scan.
@testable import VMKernel
import XCTest

final class VMMapLookupHintTests: XCTestCase {
    func testHintedLookupsMatchALinearScan() throws {
        var state: UInt64 = 0x2545_F491_4F6C_DD1D
        func next(_ n: UInt64) -> UInt64 {
            state ^= state << 13; state ^= state >> 7; state ^= state << 17
            return state % n
        }
        let k = try Kernel()
        try k.createProcess(pid: 1)
        let map = try XCTUnwrap(k.map(of: 1))
        let base: UInt64 = 0x1000_0000
        func scan(_ va: UInt64) -> VMMapEntry? { map.entries.first { $0.start <= va && va < $0.end } }
        for step in 0..<3000 {
            let address = base + next(256) * 4096
            let length = (1 + next(24)) * 4096
            switch next(3) {
            case 0:
                try? k.mmap(pid: 1, MmapRequest(address: address, length: length,
                                                 protection: next(2) == 0 ? [.read] : [.read, .write],
                                                 shared: false, fileID: nil))
            case 1: try? k.munmap(pid: 1, address: address, length: length)
            default: try? k.mprotect(pid: 1, address: address, length: length, protection: next(2) == 0 ? [.read] : [.read, .write])
            }
            // The same address twice (the second answer comes from the hint), then neighbours.
            for va in [address, address, address + length - 1, address + length, base + next(280) * 4096, address] {
                XCTAssertTrue(map.entry(containing: va) === scan(va), "step \(step): va 0x\(String(va, radix: 16))")
                XCTAssertEqual(map.entryIndex(containing: va).map { map.entries[$0] }.map(ObjectIdentifier.init),
                               scan(va).map(ObjectIdentifier.init), "step \(step)")
            }
        }
    }
}
