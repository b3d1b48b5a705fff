// Mappings the importer has to infer: pages a program touched that no mapping it knows of
// covers (a log without a startup layout, or a segment Valgrind did not report). The first
// pass over the logs collects such pages per program; at the program's start the second pass
// maps regions that cover them, before the first access.
import VMTrace

/// Pages of one program (an instance of a process) that were accessed outside every mapping.
struct LackeyUnmappedPages {
    /// Page number → access kinds seen (`readBit`, `writeBit`, `executeBit`) and access count.
    private(set) var pages: [UInt64: (kinds: UInt8, accesses: UInt64)] = [:]

    static let readBit: UInt8 = 1, writeBit: UInt8 = 2, executeBit: UInt8 = 4

    var isEmpty: Bool { pages.isEmpty }

    mutating func add(page: UInt64, kinds: UInt8) {
        let old = pages[page] ?? (0, 0)
        pages[page] = (old.kinds | kinds, old.accesses + 1)
    }

    /// The inference rule (docs/recording.md): sort the pages; pages whose kinds put them in the
    /// same class (executed, or data only) and that are at most `maxGap` pages apart form one
    /// region, gap included. Code regions are `r-x` (`rwx` if also written), data regions `rw-`
    /// if written, else `r--`. With `findStack`, the highest written data region is the stack.
    func regions(maxGap: UInt64 = 16, findStack: Bool) -> [LackeyInferredRegion] {
        var out: [LackeyInferredRegion] = []
        for page in pages.keys.sorted() {
            let (kinds, accesses) = pages[page]!
            let code = kinds & Self.executeBit != 0
            if var last = out.last, last.isCode == code, page - (last.end >> 12) <= maxGap {
                last.end = (page + 1) << 12
                last.kinds |= kinds
                last.pages += 1
                last.accesses += accesses
                out[out.count - 1] = last
            } else {
                out.append(LackeyInferredRegion(start: page << 12, end: (page + 1) << 12, kinds: kinds,
                                                isCode: code, pages: 1, accesses: accesses))
            }
        }
        if findStack, let i = out.lastIndex(where: { !$0.isCode && $0.kinds & Self.writeBit != 0 }) {
            out[i].stack = true
        }
        return out
    }
}

/// A region the importer mapped because accesses needed it.
public struct LackeyInferredRegion: Equatable, Sendable {
    /// The trace pid.
    public var pid: UInt32 = 0
    public var start: UInt64
    public var end: UInt64
    /// Access kinds seen (read 1, write 2, execute 4).
    var kinds: UInt8
    var isCode: Bool
    /// Pages of the region that were accessed, and how many accesses they took.
    public var pages: Int
    public var accesses: UInt64
    /// Mapped as the process's stack (grows down, `kern.sgrowsiz` at a time).
    public var stack = false

    init(start: UInt64, end: UInt64, kinds: UInt8, isCode: Bool, pages: Int, accesses: UInt64) {
        self.start = start
        self.end = end
        self.kinds = kinds
        self.isCode = isCode
        self.pages = pages
        self.accesses = accesses
    }

    public var protection: Protection {
        var p: Protection = .read
        if kinds & LackeyUnmappedPages.writeBit != 0 { p.insert(.write) }
        if isCode { p.insert(.execute) }
        return p
    }
}
