// Memories below the command line's 4M minimum (the library takes any size; goldens could ask
// for one): OOM kills end the running process in the middle of its own faults. The sample
// traces replay to the end, packed and event by event alike (issue 16 item 2: `check` with a
// golden's "phys_mem": 4096 crashed about half the time, a use-after-free of the killed
// process that an ASan build of `check` reported on its first run; without ASan, the unfixed
// engine crashed in 2 of 4 runs of this test and PressureTests' OOM-kill-mid-access test).
import Foundation
@testable import VMReplay
import VMTrace
import XCTest

extension FastPathTests {
    func testTinyMemoriesReplayTheSamplesToTheEnd() throws {
        for name in ["ls", "sort"] {
            let path = Self.tracesDirectory.appendingPathComponent("\(name).vmt.gz").path
            for pages: UInt64 in [1, 2, 1024] {
                let config = ReplayConfiguration(physicalMemory: pages * 4096, swap: 0)
                let reference = try referenceReport(path, config)
                let fast = try fastReport(path, config)
                XCTAssertEqual(reference, fast, "\(name), \(pages) pages")
                if pages < 1024 {
                    XCTAssertNotEqual(reference["mem.oom_kills"], "0", "\(name), \(pages) pages: memory this small kills")
                }
            }
        }
    }
}
