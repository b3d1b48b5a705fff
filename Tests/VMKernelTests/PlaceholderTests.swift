import XCTest
final class VMKernelTestsPlaceholder: XCTestCase { func testBuilds() {} }
