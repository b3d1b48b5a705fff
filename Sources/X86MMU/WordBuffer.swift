// The flat storage behind page tables and TLBs: one contiguous run of 64-bit words.

/// A flat, zero-initialised, growable array of `UInt64` with a single owner.
///
/// Why not `ContiguousArray<UInt64>`: stored in a class, every write to one costs a
/// copy-on-write uniqueness check (a runtime call), and the never-taken copy path is a call the
/// optimiser must assume can release things, so it brackets a page walk's A/D update with a
/// retain/release of the page table (both seen in the release build's disassembly). Being
/// `~Copyable`, this buffer cannot be shared, so it needs no uniqueness check, and it frees its
/// memory in `deinit` like an array would.
///
/// Indexes are checked by `assert` only: every index the MMU forms is masked into range
/// (TLB sets) or read from a non-leaf entry that only `PageTable` writes.
@usableFromInline
struct WordBuffer: ~Copyable {
    @usableFromInline var base: UnsafeMutablePointer<UInt64>
    private var capacity: Int
    /// Number of words in use.
    @usableFromInline private(set) var count: Int

    /// `count` zero words.
    init(zeros count: Int) {
        precondition(count > 0)
        base = .allocate(capacity: count)
        base.initialize(repeating: 0, count: count)
        capacity = count
        self.count = count
    }

    deinit { base.deallocate() }

    @inlinable
    subscript(i: Int) -> UInt64 {
        @inline(__always) get {
            assert(i >= 0 && i < count, "WordBuffer index out of range")
            return base[i]
        }
        @inline(__always) nonmutating set {
            assert(i >= 0 && i < count, "WordBuffer index out of range")
            base[i] = newValue
        }
    }

    /// Appends `n` zero words, doubling the capacity when it runs out (amortised O(n)).
    mutating func appendZeros(_ n: Int) {
        if count + n > capacity {
            let newCapacity = max(capacity * 2, count + n)
            let grown = UnsafeMutablePointer<UInt64>.allocate(capacity: newCapacity)
            grown.moveInitialize(from: base, count: count)
            base.deallocate()
            base = grown
            capacity = newCapacity
        }
        (base + count).initialize(repeating: 0, count: n)
        count += n
    }

    /// Sets every word to 0.
    func zeroAll() { base.update(repeating: 0, count: count) }

    /// Sets words `start ..< start + n` to 0.
    func zero(from start: Int, count n: Int) {
        assert(start >= 0 && n >= 0 && start + n <= count, "WordBuffer range out of range")
        (base + start).update(repeating: 0, count: n)
    }
}
