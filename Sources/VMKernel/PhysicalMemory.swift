// Physical page frames, the page queues and the free-page thresholds
// (sys/vm/vm_page.c, vm_page2.h, vm_pageout.c vm_pageout_free_page_calc; research §7).

/// vm_page_array: every frame's record, in chunks of 4,096 that never move (a VMPage points
/// into one), reached through a table of chunk pointers sized once for the machine.
struct VMPageArray {
    static let chunkShift = 12
    static let chunkSize = 1 << chunkShift
    /// The most frames a machine hands out: queue links hold a frame number plus one in 32 bits.
    static let frameLimit = Int(UInt32.max) - 1

    let chunks: UnsafeMutablePointer<UnsafeMutablePointer<PageRecord>?>
    let chunkCount: Int

    init(frames: Int) {
        chunkCount = (min(max(frames, 0), VMPageArray.frameLimit) + VMPageArray.chunkSize - 1) >> VMPageArray.chunkShift
        chunks = .allocate(capacity: max(chunkCount, 1))
        chunks.initialize(repeating: nil, count: max(chunkCount, 1))
    }

    @inline(__always)
    subscript(frame: Int) -> VMPage {
        VMPage(record: chunks[frame >> VMPageArray.chunkShift].unsafelyUnwrapped + (frame & (VMPageArray.chunkSize - 1)))
    }

    /// The page a queue link (frame + 1, 0 for none) names.
    @inline(__always)
    func linked(_ link: UInt32) -> VMPage? {
        link == 0 ? nil : self[Int(link) &- 1]
    }

    /// Creates the record of frame `frame`, the next never-used one.
    func append(frame: Int) -> VMPage {
        let chunk = frame >> VMPageArray.chunkShift
        if chunks[chunk] == nil { chunks[chunk] = .allocate(capacity: VMPageArray.chunkSize) }
        let record = chunks[chunk].unsafelyUnwrapped + (frame & (VMPageArray.chunkSize - 1))
        record.initialize(to: PageRecord(frame: UInt64(frame)))
        return VMPage(record: record)
    }

    /// Frees the first `count` records and the chunks (the machine's end).
    func deallocate(count: Int) {
        var left = count
        for chunk in 0 ..< chunkCount {
            guard let records = chunks[chunk] else { break }
            records.deinitialize(count: min(left, VMPageArray.chunkSize))
            records.deallocate()
            left -= VMPageArray.chunkSize
        }
        chunks.deallocate()
    }
}

/// An intrusive list of pages (one page queue), linked through the records.
struct PageList {
    private(set) var head: VMPage?
    private(set) var tail: VMPage?
    private(set) var count = 0

    @inline(__always)
    private static func link(_ m: VMPage?) -> UInt32 {
        m.map { UInt32(truncatingIfNeeded: $0.frame &+ 1) } ?? 0
    }

    mutating func append(_ m: VMPage, _ frames: VMPageArray) {
        m.record.pointee.queueNext = 0
        m.record.pointee.queuePrev = PageList.link(tail)
        if let t = tail { t.record.pointee.queueNext = PageList.link(m) } else { head = m }
        tail = m
        count += 1
    }

    mutating func remove(_ m: VMPage, _ frames: VMPageArray) {
        let prev = frames.linked(m.record.pointee.queuePrev)
        let next = frames.linked(m.record.pointee.queueNext)
        if let p = prev { p.record.pointee.queueNext = m.record.pointee.queueNext } else { head = next }
        if let n = next { n.record.pointee.queuePrev = m.record.pointee.queuePrev } else { tail = prev }
        m.record.pointee.queueNext = 0
        m.record.pointee.queuePrev = 0
        count -= 1
    }

    mutating func removeFirst(_ frames: VMPageArray) -> VMPage? {
        guard let m = head else { return nil }
        remove(m, frames)
        return m
    }
}

/// The free-page thresholds of vm_pageout_free_page_calc and the pagedaemon's start (research §7.2).
public struct PageThresholds: Equatable, Sendable {
    public var v_page_count: Int
    public var v_free_min: Int
    public var v_free_reserved: Int
    public var v_free_severe: Int
    public var v_pageout_free_min: Int
    public var v_interrupt_free_min: Int
    public var v_free_target: Int
    public var v_cache_min: Int
    public var v_cache_max: Int
    public var v_inactive_target: Int

    /// The formulas of research §7.2 for `pages` usable pages and `cpus` CPUs, with every page
    /// free at boot.
    public init(pages: Int, cpus: Int = 1) {
        v_page_count = pages
        var freeMin = pages <= 1024 ? 64 : 64 + (pages - 1024) / 200
        freeMin = max(freeMin, 128 * cpus * 10) // VMMETER_SLOP_COUNT * ncpus * 10
        freeMin = min(freeMin, pages / 20)
        v_free_min = freeMin
        v_free_reserved = freeMin * 4 / 8 + 7
        v_free_severe = freeMin * 4 / 8
        v_pageout_free_min = freeMin * 2 / 8 + 7
        v_interrupt_free_min = freeMin / 8 + 7
        v_free_target = pages > 6144 ? 4 * freeMin + v_free_reserved : 2 * freeMin + v_free_reserved
        v_cache_min = pages > 2048 ? v_free_target : 0
        v_cache_max = 2 * v_cache_min
        v_inactive_target = pages / 4
    }
}

/// The machine's page frames (vm_page_array) and queues.
public final class PhysicalMemory {
    /// Every frame created so far (vm_page_array); frame numbers below `frameCount` index it.
    let frames: VMPageArray
    @exclusivity(unchecked) public private(set) var frameCount = 0
    /// Records of fictitious (device) pages, which are not RAM frames, kept for the machine's life.
    @exclusivity(unchecked) private var fictitious: [UnsafeMutablePointer<PageRecord>] = []
    /// Frames never handed out yet (the tail of physical memory).
    @exclusivity(unchecked) private var untouchedFrames: Int
    public let thresholds: PageThresholds

    @exclusivity(unchecked) private var freeQueue = PageList()
    @exclusivity(unchecked) private(set) var inactiveQueue = PageList()
    @exclusivity(unchecked) private(set) var activeQueue = PageList()
    @exclusivity(unchecked) private(set) var cacheQueue = PageList()
    @exclusivity(unchecked) private var holdQueue = PageList()

    /// Pages wired (page-table pages, mlock'ed pages).
    @exclusivity(unchecked) public private(set) var wiredCount = 0
    /// Highest number of allocated (not free, not cache) frames seen.
    @exclusivity(unchecked) public private(set) var peakInUse = 0
    /// Frames allocated and freed over the replay.
    @exclusivity(unchecked) public private(set) var allocations: UInt64 = 0
    @exclusivity(unchecked) public private(set) var frees: UInt64 = 0

    public init(pages: Int) {
        untouchedFrames = pages
        thresholds = PageThresholds(pages: pages)
        frames = VMPageArray(frames: pages)
    }

    deinit {
        frames.deallocate(count: frameCount)
        for record in fictitious {
            record.deinitialize(count: 1)
            record.deallocate()
        }
    }

    /// A fictitious page (dev_pager_getfake's frame), numbered `frame`, outside the RAM frames.
    func makeFictitiousPage(frame: UInt64) -> VMPage {
        let record = UnsafeMutablePointer<PageRecord>.allocate(capacity: 1)
        record.initialize(to: PageRecord(frame: frame))
        fictitious.append(record)
        return VMPage(record: record)
    }

    public var pageCount: Int { thresholds.v_page_count }
    /// v_free_count: free frames (never touched ones included).
    public var freeCount: Int { freeQueue.count + untouchedFrames }
    public var cacheCount: Int { cacheQueue.count }
    public var activeCount: Int { activeQueue.count }
    public var inactiveCount: Int { inactiveQueue.count }
    /// Frames holding data (everything not free). Cache pages still hold data.
    public var inUse: Int { pageCount - freeCount }

    /// The page for a physical frame number (from a PTE).
    @inline(__always) public func page(frame: UInt64) -> VMPage { frames[Int(truncatingIfNeeded: frame)] }

    /// Every RAM frame used so far, by frame number (for the invariant checker and reports).
    var allFrames: [VMPage] { (0 ..< frameCount).map { frames[$0] } }

    /// The page after `m` on its queue.
    @inline(__always) func next(after m: VMPage) -> VMPage? { frames.linked(m.record.pointee.queueNext) }

    // MARK: predicates (vm_page2.h)

    /// vm_page_count_severe(): free+cache below v_free_severe, or free below v_free_reserved.
    public func countSevere() -> Bool {
        let t = thresholds
        return t.v_free_severe > freeCount + cacheCount || t.v_free_reserved > freeCount
    }

    /// vm_page_count_min(n)
    public func countMin(_ n: Int) -> Bool {
        let t = thresholds
        return t.v_free_min + n > freeCount + cacheCount || t.v_free_reserved > freeCount
    }

    /// vm_page_count_target()
    public func countTarget() -> Bool {
        let t = thresholds
        return t.v_free_target > freeCount + cacheCount || t.v_free_reserved > freeCount
    }

    /// vm_paging_needed()
    public func pagingNeeded() -> Bool {
        let t = thresholds
        return t.v_free_min + t.v_cache_min > freeCount + cacheCount || t.v_free_min > freeCount
    }

    // MARK: allocation

    /// Takes a frame off the free queue (or the untouched tail). The caller gives it an identity.
    /// `system` allocations (page tables) may dig below v_free_reserved (VM_ALLOC_SYSTEM).
    func allocateFrame(system: Bool) -> VMPage? {
        if !system && freeCount < thresholds.v_free_reserved { return nil }
        let m: VMPage
        if let f = freeQueue.removeFirst(frames) {
            m = f
        } else if untouchedFrames > 0 && frameCount < VMPageArray.frameLimit {
            untouchedFrames -= 1
            m = frames.append(frame: frameCount)
            frameCount += 1
        } else {
            return nil
        }
        m.queue = .none
        allocations += 1
        peakInUse = max(peakInUse, inUse)
        return m
    }

    /// Returns a frame to the free queue (vm_page_free_toq). The page must have no mappings.
    func freeFrame(_ m: VMPage) {
        unqueue(m)
        if m.wireCount > 0 { wiredCount -= 1 }
        m.resetForFree()
        m.queue = .free
        freeQueue.append(m, frames)
        frees += 1
    }

    // MARK: queues

    private func withQueue<R>(_ q: PageQueue, _ body: (inout PageList) -> R) -> R? {
        switch q {
        case .inactive: return body(&inactiveQueue)
        case .active: return body(&activeQueue)
        case .cache: return body(&cacheQueue)
        case .hold: return body(&holdQueue)
        case .free: return body(&freeQueue)
        case .none: return nil
        }
    }

    /// vm_page_unqueue_nowakeup
    func unqueue(_ m: VMPage) {
        if m.queue == .none { return }
        _ = withQueue(m.queue) { $0.remove(m, frames) }
        m.queue = .none
    }

    func enqueue(_ m: VMPage, _ q: PageQueue) {
        unqueue(m)
        m.queue = q
        _ = withQueue(q) { $0.append(m, frames) }
    }

    /// vm_page_activate: to PQ_ACTIVE with act_count at least ACT_INIT; a PQ_CACHE page counts as
    /// reactivated. Wired pages stay off the queues.
    func activate(_ m: VMPage, meter: inout VMMeter) {
        if m.flags.contains(.unmanaged) { return } // fictitious and unmanaged pages stay unqueued
        if m.queue == .active { return }
        if m.queue == .cache { meter.v_reactivated += 1 }
        if m.wireCount > 0 {
            unqueue(m)
            return
        }
        enqueue(m, .active)
        if m.actCount < actInit { m.actCount = actInit }
    }

    /// vm_page_deactivate: to the tail of PQ_INACTIVE (no-op when already there or wired).
    func deactivate(_ m: VMPage, meter: inout VMMeter) {
        if m.flags.contains(.unmanaged) { return }
        if m.queue == .inactive { return }
        if m.queue == .cache { meter.v_reactivated += 1 }
        if m.wireCount > 0 {
            unqueue(m)
            return
        }
        enqueue(m, .inactive)
    }

    /// vm_page_wire
    func wire(_ m: VMPage) {
        if m.wireCount == 0 {
            unqueue(m)
            // Fictitious (device) pages are not RAM: PG_UNQUEUED, outside v_wire_count.
            if !m.flags.contains(.fictitious) { wiredCount += 1 }
        }
        m.wireCount += 1
    }

    /// vm_page_unwire(m, activate)
    func unwire(_ m: VMPage, activate: Bool, meter: inout VMMeter) {
        guard m.wireCount > 0 else { return }
        m.wireCount -= 1
        if m.wireCount == 0 {
            if !m.flags.contains(.fictitious) { wiredCount -= 1 }
            if activate { self.activate(m, meter: &meter) } else { deactivate(m, meter: &meter) }
        }
    }

    /// vm_page_cache: a clean, unmapped page moves to PQ_CACHE, still attached to its object.
    func cache(_ m: VMPage) {
        enqueue(m, .cache)
    }

    var inactiveHead: VMPage? { inactiveQueue.head }
    var activeHead: VMPage? { activeQueue.head }
    var cacheHead: VMPage? { cacheQueue.head }

    /// Pages of one queue in order (for the pagedaemon and the invariant checker).
    func forEach(in q: PageQueue, _ body: (VMPage) -> Void) {
        var list: PageList
        switch q {
        case .inactive: list = inactiveQueue
        case .active: list = activeQueue
        case .cache: list = cacheQueue
        case .hold: list = holdQueue
        case .free: list = freeQueue
        case .none: return
        }
        var m = list.head
        while let p = m {
            m = next(after: p)
            body(p)
        }
    }
}
