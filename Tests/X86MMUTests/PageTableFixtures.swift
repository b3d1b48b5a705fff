import X86MMU

/// Leaf flags used throughout: a present user page, read-write or read-only.
let userRW = PTE.present | PTE.writable | PTE.user
let userRO = PTE.present | PTE.user

/// 4 KiB.
let page: UInt64 = 0x1000

/// A page table mapping each `va` to `frame` with `flags`.
func table(_ mappings: [(va: UInt64, frame: UInt64, flags: UInt64)]) -> PageTable {
    let t = PageTable()
    for m in mappings { t.setPTE(at: m.va, PTE(frame: m.frame, flags: m.flags)) }
    return t
}
