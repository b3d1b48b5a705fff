import XCTest
import X86MMU

final class PTETests: XCTestCase {
    func testBitPositions() {
        // SDM Table 4-19 positions, DragonFly's AVAIL1..3 software bits, and the simulator's bit 52.
        XCTAssertEqual(PTE.present, 0x1)
        XCTAssertEqual(PTE.writable, 0x2)
        XCTAssertEqual(PTE.user, 0x4)
        XCTAssertEqual(PTE.accessed, 0x20)
        XCTAssertEqual(PTE.dirty, 0x40)
        XCTAssertEqual(PTE.global, 0x100)
        XCTAssertEqual(PTE.wired, 0x200)
        XCTAssertEqual(PTE.managed, 0x400)
        XCTAssertEqual(PTE.device, 0x800)
        XCTAssertEqual(PTE.watch, 0x0010_0000_0000_0000)
        XCTAssertEqual(PTE.noExecute, 0x8000_0000_0000_0000)
    }

    func testFrameAndFlags() {
        // frame 0x12345 lands in bits 12..: 0x12345 << 12 = 0x12345000, plus P|RW = 3.
        let p = PTE(frame: 0x12345, flags: PTE.present | PTE.writable)
        XCTAssertEqual(p.raw, 0x1234_5003)
        XCTAssertEqual(p.frame, 0x12345)
        XCTAssertEqual(p.flags, 0x3)

        // The largest frame (40 bits) fills bits 12..51 exactly; setting it keeps NX and P.
        var q = PTE(raw: PTE.noExecute | 0x1000 | PTE.present)
        q.frame = 0xFF_FFFF_FFFF
        XCTAssertEqual(q.raw, PTE.noExecute | 0x000F_FFFF_FFFF_F000 | PTE.present)
        q.frame = 7
        XCTAssertEqual(q.raw, PTE.noExecute | 0x7000 | PTE.present)
    }

    func testConvenienceGetters() {
        let all = PTE(frame: 1, flags: PTE.present | PTE.writable | PTE.user | PTE.accessed | PTE.dirty
            | PTE.global | PTE.wired | PTE.managed | PTE.device | PTE.watch | PTE.noExecute)
        XCTAssertTrue(all.isPresent && all.isWritable && all.isUser && all.isAccessed && all.isDirty)
        XCTAssertTrue(all.isGlobal && all.isWired && all.isManaged && all.isDevice && all.isWatched)
        XCTAssertTrue(all.isNoExecute)
        // Only the frame is set: every flag getter is false.
        let none = PTE(frame: 0xABC, flags: 0)
        XCTAssertFalse(none.isPresent || none.isWritable || none.isUser || none.isAccessed || none.isDirty)
        XCTAssertFalse(none.isGlobal || none.isWired || none.isManaged || none.isDevice || none.isWatched)
        XCTAssertFalse(none.isNoExecute)
        XCTAssertTrue(all.has(PTE.present | PTE.user))
        XCTAssertFalse(none.has(PTE.present))
    }

    func testDescription() {
        XCTAssertEqual(PTE(frame: 0x1f, flags: PTE.present | PTE.noExecute).description, "PTE(frame: 0x1f, P NX)")
        XCTAssertEqual(PTE(raw: 0).description, "PTE(frame: 0x0)")
    }
}
