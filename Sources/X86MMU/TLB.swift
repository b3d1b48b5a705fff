// A set-associative translation lookaside buffer for 4 KiB pages (Intel SDM Vol. 3A §4.10.2),
// with true LRU replacement within a set.

/// Size and associativity of one TLB. `sets = entries / ways` must be a power of two (the set is
/// selected by the low bits of the virtual page number) and `ways >= 1`.
public struct TLBGeometry: Equatable, Hashable, Sendable {
    public var entries: Int
    public var ways: Int

    public init(entries: Int, ways: Int) {
        self.entries = entries
        self.ways = ways
    }

    /// Number of sets (`entries / ways`).
    public var sets: Int { ways > 0 ? entries / ways : 0 }

    /// Whether a TLB can be built with this geometry: `ways >= 1`, `entries` a multiple of
    /// `ways`, and a power-of-two number of sets.
    public var isValid: Bool {
        ways >= 1 && entries >= ways && entries % ways == 0 && sets & (sets - 1) == 0
    }
}

/// One TLB, stored flat: entry `w` of set `s` is the word pair at `2 * (s * ways + w)`, a key
/// (virtual page number | `valid`, 0 when empty) and a value (the cached leaf bits, see
/// `TLB.cachedBits`).
///
/// Each set is kept in recency order, most recently used first, with its valid entries forming
/// a prefix. So a lookup stops at the first empty slot, a hit at way 0 (the common case under
/// locality) moves nothing, and the LRU victim is always the last way.
@usableFromInline
struct TLB: ~Copyable {
    /// Marks a key as valid; virtual page numbers have at most 36 bits.
    @usableFromInline static let valid: UInt64 = 1 << 63
    /// The leaf bits a TLB entry caches: the frame, the rights (R/W, U/S, XD), D (so a write to a
    /// clean page can be caught and re-walked, SDM §4.8) and G (kept across CR3 loads). P is
    /// always set so the value is never 0. A and the software bits are not cached.
    static let cachedBits = PTE.frameMask | PTE.writable | PTE.user | PTE.dirty | PTE.global | PTE.noExecute

    let ways: Int
    /// `sets - 1`: the set of page `vpn` is `vpn & setMask`.
    @usableFromInline let setMask: UInt64
    /// `2 * ways`: words per set.
    @usableFromInline let setStride: Int
    @usableFromInline let slots: WordBuffer
    /// Word 0 is non-zero once an entry with G set may have been cached: until then a CR3
    /// load's flush has nothing to keep and clears the array in one go (no kernel in this
    /// simulator maps user pages global, so that is every flush).
    let mayHoldGlobal: WordBuffer
    /// The sets a fill made non-empty since the last flush, so that a flush clears those and not
    /// the whole array: word 0 is how many, words 1... their indexes (a set emptied by
    /// invalidations and filled again is listed twice, which is harmless). A count above the
    /// number of sets means "not tracked": the next flush clears everything. A CR3 load flushes
    /// every TLB, and between two context switches a process of a fork-heavy trace touches a
    /// few dozen pages: clearing 24 KiB of STLB for them was a third of such a replay's
    /// instructions.
    let occupiedSets: WordBuffer
    let setCount: Int

    init(_ geometry: TLBGeometry) {
        precondition(geometry.isValid, "invalid TLB geometry \(geometry)")
        ways = geometry.ways
        setMask = UInt64(geometry.sets - 1)
        setStride = 2 * geometry.ways
        slots = WordBuffer(zeros: 2 * geometry.entries)
        mayHoldGlobal = WordBuffer(zeros: 1)
        setCount = geometry.sets
        occupiedSets = WordBuffer(zeros: geometry.sets + 1)
    }

    /// Lists set `set`, which is about to stop being empty.
    private func noteOccupied(_ set: Int) {
        let listed = Int(truncatingIfNeeded: occupiedSets[0])
        if listed < setCount {
            occupiedSets[1 &+ listed] = UInt64(set)
            occupiedSets[0] = UInt64(listed &+ 1)
        } else {
            occupiedSets[0] = UInt64(setCount &+ 1)
        }
    }

    /// Index of the first word of `vpn`'s set.
    @inlinable @inline(__always)
    func setBase(_ vpn: UInt64) -> Int { Int(truncatingIfNeeded: vpn & setMask) &* setStride }

    /// A lookup that succeeds only if `vpn`'s entry grants `need` and, for a `write`, has D
    /// cached: then, as `lookup`, it becomes the set's most recent entry and the result is
    /// true. Otherwise nothing changes.
    @inlinable @inline(__always)
    func hit(_ vpn: UInt64, need: UInt64, write: Bool) -> Bool {
        guard let i = slot(of: vpn) else { return false }
        let value = slots[i &+ 1]
        guard PTE.grants(value, need) && (!write || value & PTE.dirty != 0) else { return false }
        let base = setBase(vpn)
        if i != base { moveToFront(from: i, base: base, key: vpn | TLB.valid, value: value) }
        return true
    }

    /// `hit` for an entry that is already its set's most recent (so nothing would move).
    @inlinable @inline(__always)
    func frontHit(_ vpn: UInt64, need: UInt64, write: Bool) -> Bool {
        let base = setBase(vpn)
        guard slots[base] == vpn | TLB.valid else { return false }
        let value = slots[base &+ 1]
        return PTE.grants(value, need) && (!write || value & PTE.dirty != 0)
    }

    /// Index in `slots` of `vpn`'s key, if cached.
    @inlinable @inline(__always)
    func slot(of vpn: UInt64) -> Int? {
        let key = vpn | TLB.valid
        let base = setBase(vpn)
        let end = base &+ setStride
        var i = base
        while i < end {
            let k = slots[i]
            if k == key { return i }
            if k == 0 { return nil }  // valid entries are a prefix: nothing further in this set
            i &+= 2
        }
        return nil
    }

    /// The cached value for `vpn`, making it the set's most recently used entry.
    @inline(__always)
    func lookup(_ vpn: UInt64) -> UInt64? {
        guard let i = slot(of: vpn) else { return nil }
        let value = slots[i &+ 1]
        let base = setBase(vpn)
        if i != base { moveToFront(from: i, base: base, key: vpn | TLB.valid, value: value) }
        return value
    }

    /// Shifts the entries before `i` down one way and stores (key, value) at way 0.
    @inlinable @inline(__always)
    func moveToFront(from i: Int, base: Int, key: UInt64, value: UInt64) {
        var j = i
        while j > base {
            slots[j] = slots[j &- 2]
            slots[j &+ 1] = slots[j &- 1]
            j &-= 2
        }
        slots[base] = key
        slots[base &+ 1] = value
    }

    /// Installs `value` for `vpn` as the most recently used entry of its set: in place if `vpn`
    /// is already cached (no duplicates), else evicting the LRU entry (the last way) if full.
    func fill(_ vpn: UInt64, _ value: UInt64) {
        if value & PTE.global != 0 { mayHoldGlobal[0] = 1 }
        let key = vpn | TLB.valid
        let base = setBase(vpn)
        if slots[base] == 0 { noteOccupied(Int(truncatingIfNeeded: vpn & setMask)) }
        var i = base
        let last = base &+ setStride &- 2
        // Find vpn's own slot, else the first empty one, else the last (LRU) way.
        while i < last, slots[i] != key, slots[i] != 0 { i &+= 2 }
        moveToFront(from: i, base: base, key: key, value: value)
    }

    /// Drops `vpn`'s entry, if any, closing the gap so valid entries stay a prefix.
    /// Returns whether there was one.
    @discardableResult
    func invalidate(_ vpn: UInt64) -> Bool {
        let key = vpn | TLB.valid
        let base = setBase(vpn)
        let end = base &+ setStride
        var i = base
        while i < end, slots[i] != key {
            if slots[i] == 0 { return false }
            i &+= 2
        }
        guard i < end else { return false }
        while i &+ 2 < end {
            slots[i] = slots[i &+ 2]
            slots[i &+ 1] = slots[i &+ 3]
            i &+= 2
        }
        slots[i] = 0
        slots[i &+ 1] = 0
        return true
    }

    /// Drops every entry whose page is in `first ... last`, keeping each set's survivors in
    /// their order: what `invalidate` of each of those pages, in any order, leaves. Returns how
    /// many were dropped (with `dropping` false, only counts them and changes nothing).
    @discardableResult
    func invalidateRange(_ first: UInt64, _ last: UInt64, dropping: Bool = true) -> Int {
        var dropped = 0
        var base = 0
        let total = setCount &* setStride
        while base < total {
            let end = base &+ setStride
            var read = base
            var write = base
            while read < end {
                let key = slots[read]
                if key == 0 { break }
                let vpn = key & ~TLB.valid
                if vpn >= first && vpn <= last {
                    dropped &+= 1
                } else {
                    if write != read && dropping {
                        slots[write] = key
                        slots[write &+ 1] = slots[read &+ 1]
                    }
                    write &+= 2
                }
                read &+= 2
            }
            while dropping && write < read {
                slots[write] = 0
                slots[write &+ 1] = 0
                write &+= 2
            }
            base = end
        }
        return dropped
    }

    /// Drops every entry, or (`keepGlobal`) every entry whose cached G bit is clear, keeping
    /// the survivors' recency order.
    func flush(keepGlobal: Bool) {
        if !keepGlobal || mayHoldGlobal[0] == 0 {
            let listed = Int(truncatingIfNeeded: occupiedSets[0])
            if listed > setCount {
                slots.zeroAll()
            } else {
                for k in 0 ..< listed {
                    slots.zero(from: Int(truncatingIfNeeded: occupiedSets[1 &+ k]) &* setStride, count: setStride)
                }
            }
            occupiedSets[0] = 0
            mayHoldGlobal[0] = 0
            return
        }
        // Global entries survive in sets this pass does not record: clear everything next time.
        occupiedSets[0] = UInt64(setCount &+ 1)
        var base = 0
        while base < slots.count {
            var kept = base
            var i = base
            let end = base + setStride
            while i < end, slots[i] != 0 {
                if keepGlobal && slots[i + 1] & PTE.global != 0 {
                    slots[kept] = slots[i]
                    slots[kept + 1] = slots[i + 1]
                    kept += 2
                }
                i += 2
            }
            while kept < i {
                slots[kept] = 0
                slots[kept + 1] = 0
                kept += 2
            }
            base = end
        }
    }

    /// Number of valid entries (for tests and debugging).
    var count: Int {
        stride(from: 0, to: slots.count, by: 2).reduce(0) { $0 + (slots[$1] != 0 ? 1 : 0) }
    }

    /// The valid virtual page numbers of `set`, most recently used first (for tests).
    func pages(inSet set: Int) -> [UInt64] {
        let base = set * setStride
        return stride(from: base, to: base + setStride, by: 2).compactMap {
            slots[$0] != 0 ? slots[$0] & ~TLB.valid : nil
        }
    }
}
