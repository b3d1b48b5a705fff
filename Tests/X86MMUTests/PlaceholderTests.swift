import XCTest
final class X86MMUTestsPlaceholder: XCTestCase { func testBuilds() {} }
