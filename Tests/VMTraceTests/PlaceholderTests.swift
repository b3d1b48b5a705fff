import XCTest
final class VMTraceTestsPlaceholder: XCTestCase { func testBuilds() {} }
