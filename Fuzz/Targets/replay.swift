// Fuzz target `replay`: whole replays of arbitrary event sequences. A tiny structured decoder
// turns the input into a machine configuration and events, so that the fuzzer spends its time
// on what the engine does with them rather than on syntax:
//   * byte 0-3: physical memory (4M, 5M, 8M, 32M or 64G), swap (none, 256K, 4M, 64M), and
//     tunables (prefault pages, shared/fast fault, virtual copy, NX, map partitioning,
//     RLIMIT_RSS mode and limit, read-ahead); whether events go through the trace validator
//     (as every reader does) or straight to the kernel (its own argument checks only);
//   * then events, one opcode byte each plus operands: processes (pid 0, huge pids, unknown
//     parents, forks of what was never created, up to 64 forks at once), files, mmap with every
//     flag (stack, nosync, device, uksmap, shared, file offsets), munmap, mprotect, madvise,
//     mlock, munlock, MADV_SETMAP/MADV_INVAL on VPAGETABLE entries and `store`s of VPTE-like
//     words (so vm_fault_vpagetable walks real tables), every kind of access with sizes that span pages (up to 2^32-1), runs of accesses that
//     fill memory (so the pagedaemon, swap and the OOM killer run), drop_caches. Addresses come
//     from a table of edges: 0, partition and 2M boundaries, the top of user space, the first
//     non-user address, non-canonical and kernel addresses, 2^64 - 4096 — plus page offsets;
//     lengths include 0, unaligned, 32M, 2^47 and wrap-around values.
// After every event the engine's invariants (Kernel.checkInvariants) must hold; at the end the
// report is built. `FUZZ_DUMP=FILE` writes the decoded events as a text trace (with the
// configuration in a `# vmreplay-fuzz:` comment) for a regression file.
import Glibc
@testable import VMKernel
import VMReplay
import VMTrace

private let physChoices: [UInt64] = [4 << 20, 5 << 20, 8 << 20, 32 << 20, 64 << 30]
private let swapChoices: [UInt64] = [0, 256 << 10, 4 << 20, 64 << 20]
private let top: UInt64 = 0x0000_8000_0000_0000
private let addressBases: [UInt64] = [
    0, 0x1000, 0x40_0000, 0x1000_0000, 0x1000_0000 + (32 << 20) - 0x2000, 0x2000_0000,
    0x7fff_0000_0000, top - (64 << 20), top - 0x10_0000, top - 0x1000, top,
    0x0000_8000_0000_1000, 0xffff_8000_0000_0000, 0xffff_ffff_ffff_f000, 0x1000_0000_0000,
]
/// Master page-directory entries for MADV_SETMAP (VPTE bits: V 1, RW 2, U 4, PS 0x80, NX 1<<63).
private let vpteChoices: [UInt64] = [
    0x83, 0x3, 0x7, 0x1003, 0x4083, 0x40c3, 0, 0x2, 0x8000_0000_0000_0083, 0x000f_ffff_ffff_f083,
]
private let lengthChoices: [UInt64] = [
    0, 100, 0x1_0000, 2 << 20, 32 << 20, 1 << 30, 1 << 47, 0xffff_ffff_ffff_f000,
    0x0000_8000_0000_0000 - 0x1000,
]

struct FuzzReplay {
    var config = ReplayConfiguration()
    var settings: [(String, Int64)] = []
    var validate = true
    var events: [TraceEvent] = []
}

/// Decodes the structured input.
func decodeReplayInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> FuzzReplay {
    var b = FuzzBytes(data, size)
    var r = FuzzReplay()
    r.config.physicalMemory = b.pick(physChoices)
    r.config.swap = b.pick(swapChoices)
    let t1 = b.byte()
    let t2 = b.byte()
    r.validate = t2 & 0x80 == 0 || t2 & 0x40 == 0 // 1 in 4 inputs bypasses the validator
    r.settings = [
        ("vm.prefault_pages", [8, 0, 1, 64][Int(t1 & 3)]),
        ("vm.shared_fault", Int64(t1 >> 2 & 1) ^ 1),
        ("vm.fast_fault", Int64(t1 >> 3 & 1) ^ 1),
        ("vm.virtual_copy_enable", Int64(t1 >> 4 & 1) ^ 1),
        ("machdep.pmap_nx_enable", Int64(t1 >> 5 & 3) % 3),
        ("vm.map_partition_enable", Int64(t1 >> 7) ^ 1),
        ("vm.pageout_memuse_mode", Int64(t2 & 3) % 3),
        ("vmreplay.rlimit_rss", [0, 64 << 10, 1 << 20, 0][Int(t2 >> 2 & 3)]),
        ("vfs.max_readahead", [256 << 10, 0, 4096, 16 << 20][Int(t2 >> 4 & 3)]),
    ]
    for (name, value) in r.settings { try? r.config.tunables.set(name, to: value) }

    func pid(_ b: inout FuzzBytes) -> UInt32 {
        let v = b.byte()
        switch v {
        case 255: return 0
        case 254: return UInt32.max
        case 253: return 1000 + UInt32(b.byte())
        default: return 1 + UInt32(v % 6)
        }
    }
    func address(_ b: inout FuzzBytes) -> UInt64 {
        let sel = b.byte()
        var a = addressBases[Int(sel & 15) % addressBases.count]
        let pages = Int64(Int8(bitPattern: b.byte()))
        a = a &+ UInt64(bitPattern: pages &* 4096)
        if sel & 0x80 != 0 { a = a &+ UInt64(b.byte()) * 16 } // unaligned
        return a
    }
    func length(_ b: inout FuzzBytes) -> UInt64 {
        let sel = b.byte()
        if sel < 192 { return UInt64(sel % 64 + 1) * 4096 }
        return lengthChoices[Int(sel - 192) % lengthChoices.count]
    }
    func prot(_ b: inout FuzzBytes) -> Protection { Protection(rawValue: b.byte() & 7) }

    while !b.atEnd && r.events.count < 400 {
        let op = b.byte() % 28
        switch op {
        case 0: r.events.append(.proc(pid: pid(&b), threads: UInt32(b.byte() % 4)))
        case 1: r.events.append(.fork(parent: pid(&b), child: pid(&b)))
        case 2: r.events.append(.exec(pid: pid(&b)))
        case 3: r.events.append(.exit(pid: pid(&b)))
        case 4: r.events.append(.threads(pid: pid(&b), count: UInt32(b.byte() % 4)))
        case 5:
            let id = UInt32(b.byte() % 4)
            let sz = b.byte()
            let size: UInt64 = sz < 250 ? UInt64(sz) * 4096 + UInt64(b.byte()) : [0, 1, 1 << 30, 1 << 40, UInt64.max, 4095][Int(sz - 250)]
            // A resident file allocates all its pages at once: `file 1 1T resident` fills any
            // memory, slowly (docs/fuzzing.md, resource limits). Resident files stay small.
            let resident = b.byte() & 1 == 1 && size <= 64 << 20
            r.events.append(.file(id: id, size: size, resident: resident, path: "f\(id)"))
        case 6, 7:
            let p = pid(&b)
            let a = address(&b)
            let l = length(&b)
            let pr = prot(&b)
            let f = b.byte()
            var flags = MmapFlags(rawValue: f & 0x1f)
            // Most mappings are plain: device/uksmap/stack only now and then; the stack bit of a
            // plain one asks for a VPAGETABLE entry instead.
            if f & 0x80 == 0 {
                if flags.contains(.stack) { flags.insert(.vpagetable) }
                flags.subtract([.device, .uksmap, .stack])
            }
            let file: UInt32? = f & 0x20 != 0 ? UInt32(b.byte() % 4) : nil
            let off: UInt64 = f & 0x40 != 0 ? UInt64(b.byte()) * 4096 : 0
            r.events.append(.mmap(Mapping(pid: p, address: a, length: l, protection: pr, flags: flags,
                                          fileID: file, offset: off)))
        case 8: r.events.append(.munmap(pid: pid(&b), address: address(&b), length: length(&b)))
        case 9: r.events.append(.mprotect(pid: pid(&b), address: address(&b), length: length(&b), protection: prot(&b)))
        case 10:
            r.events.append(.madvise(pid: pid(&b), address: address(&b), length: length(&b),
                                     advice: Advice(rawValue: b.byte() % 7) ?? .normal))
        case 11: r.events.append(.mlock(pid: pid(&b), address: address(&b), length: length(&b)))
        case 12: r.events.append(.munlock(pid: pid(&b), address: address(&b), length: length(&b)))
        case 13: r.events.append(.dropCaches)
        case 16:
            // MADV_SETMAP: linear (PS), a table at page 0-3, invalid, NX, a frame past the object.
            r.events.append(.setmap(pid: pid(&b), address: address(&b), length: length(&b),
                                    value: vpteChoices[Int(b.byte()) % vpteChoices.count]))
        case 17:
            // A store of a VPTE-like word: a frame in the first 256 pages with random low bits.
            let p = pid(&b)
            let a = address(&b) & ~7
            let value = UInt64(b.byte()) << 12 | UInt64(b.byte()) | (b.byte() & 1 == 0 ? 0 : 1 << 63)
            r.events.append(.store(pid: p, address: a, value: value))
        case 14:
            // Many processes at once: forks of one parent.
            let parent = pid(&b)
            let n = UInt32(b.byte() % 64)
            for i in 0..<n { r.events.append(.fork(parent: parent, child: 100 + i)) }
        case 15:
            // A run of writes (or reads) over consecutive pages: fills memory.
            let p = pid(&b)
            let a = address(&b)
            let kind: AccessKind = b.byte() & 1 == 0 ? .write : .read
            let n = UInt64(b.byte()) * 4
            for i in 0..<n { r.events.append(.access(Access(kind: kind, pid: p, address: a &+ i * 4096))) }
        default:
            let kind = AccessKind(rawValue: b.byte() % 7) ?? .read
            let p = pid(&b)
            let a = address(&b)
            let s = b.byte()
            var size: UInt32 = [1, 1, 1, 8, 4096, 4097, 8192, 65537][Int(s & 7)]
            if s & 0x80 != 0 { size = 0 }
            // Sizes a packed record cannot hold (PackedEvent.sizeLimit, 16 MiB) up to 2^32-1.
            if s & 0x78 == 0x78 {
                size = [0xFF_FFFF, 1 << 24, (1 << 24) + 1, 0x3FF_F000, UInt32.max,
                        UInt32(b.byte()) << 24 | 0xFF_FFFF, 1 << 25, 0xFFFF_F001][Int(s & 7)]
            }
            if !kind.hasSize { size = 1 }
            r.events.append(.access(Access(kind: kind, pid: p, address: a, size: size)))
        }
    }
    return r
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzReplay(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let input = decodeReplayInput(data, size)
    guard let replayer = try? Replayer(input.config) else { return 0 }
    var validator = TraceValidator()
    var applied: [TraceEvent] = []
    var clean = true
    // FUZZ_ECHO=1 prints each event before it is applied (a crash leaves no FUZZ_DUMP file).
    let echoEvents = getenv("FUZZ_ECHO") != nil
    for event in input.events {
        if input.validate, validator.check(event) != nil { continue }
        applied.append(event)
        if echoEvents { fputs("\(event)\n", stderr) }
        do {
            try replayer.apply(event)
        } catch {
            // A kernel error (unknown process, bad range, ...) is an answer, not a failure.
            clean = false
        }
        do {
            try replayer.kernel.checkInvariants()
        } catch where error.isKnownSeedQuirk {
            clean = false
            break // faithful to the seed (InvariantViolation.isKnownSeedQuirk); nothing further holds
        } catch {
            dumpReplay(input, applied)
            propertyFailed("after event \(applied.count) (\(event)): \(error)")
        }
    }
    let report = replayer.finish()
    if getenv("FUZZ_DUMP") != nil { dumpReplay(input, applied) }
    breakCycles(replayer.kernel)
    // The replay's fast path (packed batch, runs of one-page accesses counted at once) must give
    // the same report as applying the events one by one. (A replay stops at a kernel error, so
    // only error-free inputs compare.)
    if clean, !input.config.checkInvariants, let fast = try? Replayer(input.config) {
        let batch = ReplayBatch(applied)
        do {
            try fast.apply(batch)
        } catch {
            dumpReplay(input, applied)
            propertyFailed("the packed replay failed where the plain one did not: \(error)")
        }
        let fastReport = fast.finish()
        breakCycles(fast.kernel)
        let plain = report.entries.map { "\($0.key)=\($0.value)" }
        let packed = fastReport.entries.map { "\($0.key)=\($0.value)" }
        if plain != packed {
            dumpReplay(input, applied)
            let diff = zip(plain, packed).filter { $0 != $1 }.prefix(3).map { "\($0) vs \($1)" }
            propertyFailed("packed replay differs: \(diff)")
        }
    }
    return 0
}

/// The engine's objects hold each other strongly (shadow lists and backing objects), and every
/// page record holds its object: a dropped Kernel is never freed. Between fuzz inputs the links
/// are cut so the memory comes back (what cannot be reached, e.g. unmapped device objects, still
/// leaks; the target runs with -detect_leaks=0). Queue links are frame numbers, not references.
private func breakCycles(_ k: Kernel) {
    var objects: [ObjectIdentifier: VMObject] = [:]
    func collect(_ start: VMObject?) {
        var o = start
        while let x = o, objects.updateValue(x, forKey: ObjectIdentifier(x)) == nil {
            for s in x.shadows { collect(s) }
            o = x.backingObject
        }
    }
    let frames = k.physmem.allFrames
    for p in k.procs.values { for e in p.map.entries { collect(e.object) } }
    for f in k.files.values { collect(f.object) }
    for m in frames { collect(m.object) }
    collect(k.uksmapObject)
    for o in objects.values {
        o.shadows = []
        o.backingObject = nil
    }
    for m in frames { m.object = nil }
}

/// Writes the events a run applied as a text trace (for Fuzz/regressions/replay/).
private func dumpReplay(_ input: FuzzReplay, _ events: [TraceEvent]) {
    guard let dump = getenv("FUZZ_DUMP") else { return }
    let path = String(cString: dump)
    var options = "--phys-mem \(input.config.physicalMemory >> 10)K --swap \(input.config.swap >> 10)K"
    for (name, value) in input.settings { options += " -s \(name)=\(value)" }
    do {
        let temp = path + ".events"
        let writer = try TraceWriter(path: temp, format: TraceFormat(encoding: .text, gzip: false))
        for e in events { try writer.write(e) }
        try writer.finish()
        // The options go in front, as a comment line.
        let header = "# vmreplay-fuzz: \(options)\(input.validate ? "" : " (unvalidated events)")\n"
        let body = readFile(temp)
        unlink(temp)
        (Array(header.utf8) + body).withUnsafeBytes { writeFile(path, $0) }
    } catch {
        fputs("FUZZ_DUMP: cannot write \(path): \(error)\n", stderr)
    }
}
