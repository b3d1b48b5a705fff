// The inputs and outputs of one `MMU.translate`: the kind of access and its outcome, with the
// x86 page-fault error code (Intel SDM Vol. 3A §4.7, Figure 4-12).

/// The kind of memory access being translated.
public enum MMUAccess: UInt8, Sendable {
    /// A data read (looked up in the dTLB).
    case read
    /// A data write (dTLB; needs R/W=1 and sets D).
    case write
    /// An instruction fetch (iTLB; needs XD=0).
    case execute
}

/// Bits of the #PF error code the simulator produces (DragonFly's PGEX_* in
/// sys/platform/pc64/include/pmap.h). Reserved-bit (PGEX_RSV), protection-key and SGX faults are
/// not modelled.
public enum PageFaultErrorCode {
    /// PGEX_P: the fault was a protection violation on a present page (else: not present).
    public static let present: UInt32 = 0x01
    /// PGEX_W: the access was a write.
    public static let write: UInt32 = 0x02
    /// PGEX_U: the access was a user-mode (CPL 3) access.
    public static let user: UInt32 = 0x04
    /// PGEX_I: the access was an instruction fetch (reported because EFER.NXE=1).
    public static let instructionFetch: UInt32 = 0x10
}

/// Outcome of one translation.
public enum TranslateResult: Equatable, Hashable, Sendable {
    /// The access is allowed; `frame` is the physical page number.
    case ok(frame: UInt64)
    /// As `.ok`, and the walk found `PTE.watch` on the leaf (now cleared). Simulator
    /// instrumentation, not a hardware outcome.
    case firstUseOfWatched(frame: UInt64)
    /// A #PF with this error code (see `PageFaultErrorCode`).
    case fault(errorCode: UInt32)

    /// The physical page number, or nil for a fault.
    @inlinable
    public var frame: UInt64? {
        switch self {
        case .ok(let frame), .firstUseOfWatched(let frame): return frame
        case .fault: return nil
        }
    }
}
