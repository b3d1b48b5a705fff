import XCTest
final class VMReplayTestsPlaceholder: XCTestCase { func testBuilds() {} }
