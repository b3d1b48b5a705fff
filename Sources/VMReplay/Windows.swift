// Access windows, like drcachesim's -skip_refs / -warmup_refs and perf stat's -I: `--skip N`
// accesses are not simulated, the next `--warmup N` are simulated but not counted, and
// `--window N` reports the counters of every N accesses after that.
import Foundation
import VMKernel
import VMTrace

public struct AccessWindows: Equatable, Sendable {
    /// Leading accesses dropped (mapping and process events still apply, so later accesses
    /// find the address space the program had).
    public var skip: UInt64 = 0
    /// Accesses after the skipped ones that are simulated (warming the TLBs, page tables and
    /// page cache) but whose counts are subtracted from the report.
    public var warmup: UInt64 = 0
    /// Report every this many accesses (0: no windows).
    public var window: UInt64 = 0

    public init(skip: UInt64 = 0, warmup: UInt64 = 0, window: UInt64 = 0) {
        self.skip = skip
        self.warmup = warmup
        self.window = window
    }

    public var isEmpty: Bool { skip == 0 && warmup == 0 && window == 0 }

    /// Keys that hold a state (a level, a size, a setting) rather than a count of things that
    /// happened: reported as they are at the end, never subtracted.
    public static func isLevel(_ key: String) -> Bool {
        if Report.group(of: key) == "tunables" { return true }
        if key.hasPrefix("vm.stats.vm.") {
            let name = key.dropFirst("vm.stats.vm.".count)
            return name.hasSuffix("_count") || name == "v_page_size" || name.hasPrefix("v_free_")
                || name.hasPrefix("v_cache_") || name.hasPrefix("v_inactive_target")
                || name.hasPrefix("v_pageout_free_min") || name.hasPrefix("v_interrupt_free_min")
        }
        return ["mem.resident_pages", "mem.peak_resident_pages", "mem.mapped_pages", "mem.swap_used",
                "mem.swap_pages", "vmobject.live", "mmu.page_table_pages"].contains(key)
    }

    /// `later - earlier` for the counting keys, `later` for the levels.
    public static func difference(_ later: Report, _ earlier: Report) -> Report {
        var out = Report()
        for (key, value) in later.entries {
            if !isLevel(key), !Report.isWallClock(key), case .int(let v) = value, let before = earlier[key]?.asInt {
                out.set(key, .int(v &- before))
            } else {
                out.set(key, value)
            }
        }
        return out
    }

    /// The columns of the window table: what changes from one window to the next.
    public static let columns: [(key: String, title: String)] = [
        ("trap.page_faults", "traps"), ("vm.stats.vm.v_vm_faults", "v_vm_faults"), ("vm.stats.vm.v_zfod", "v_zfod"),
        ("vm.stats.vm.v_cow_faults", "v_cow_faults"), ("rusage.ru_majflt", "ru_majflt"),
        ("prefault.pages", "pf.pages"), ("prefault.hits", "pf.hits"), ("trap.sigsegv", "sigsegv"),
        ("mmu.dtlb.misses", "dtlb.misses"), ("mem.resident_pages", "resident"),
    ]
}

/// One window's counts.
public struct WindowRow: Sendable {
    /// Accesses counted before the window ends (after skip and warmup), and in the window.
    public var endAccess: UInt64
    public var accesses: UInt64
    public var counts: Report
}

public struct WindowedResult: Sendable {
    public var report: Report
    public var rows: [WindowRow]
    public var skipped: Int
    public var samples: [TraceError]

    /// A table, one row per window: the accesses it ends at and what happened in it.
    public func renderWindows(csv: Bool) -> String {
        let header = ["window", "accesses"] + AccessWindows.columns.map(\.title)
        var rows = [header]
        for (i, w) in self.rows.enumerated() {
            rows.append([String(i + 1), String(w.endAccess)]
                + AccessWindows.columns.map { w.counts[$0.key]?.description ?? "" })
        }
        if csv { return rows.map { $0.joined(separator: ",") }.joined(separator: "\n") + "\n" }
        var widths = [Int](repeating: 0, count: header.count)
        for r in rows { for (i, c) in r.enumerated() { widths[i] = max(widths[i], c.count) } }
        return rows.map { r in
            r.enumerated().map { String(repeating: " ", count: widths[$0.offset] - $0.element.count) + $0.element }
                .joined(separator: "  ")
        }.joined(separator: "\n") + "\n"
    }
}

extension ReplayDriver {
    /// A replay with access windows: event by event (the packed fast path does not stop at a
    /// given access), so slower than `run`; the counters over the counted accesses are the
    /// report, minus the warmup's.
    public static func runWindowed(path: String, configuration: ReplayConfiguration, windows: AccessWindows,
                                   keepGoing: Bool = false) throws -> WindowedResult
    {
        let started = Date()
        let reader = try TraceReader(path: path, options: .init(keepGoing: keepGoing, batchSize: 16384))
        let replayer = try Replayer(configuration)
        replayer.keepGoing = keepGoing
        var accesses: UInt64 = 0          // seen, skipped ones included
        let countFrom = windows.skip &+ windows.warmup
        var baseline: Report?
        var lastWindow: Report?
        var lastWindowEnd: UInt64 = 0
        var rows: [WindowRow] = []
        var batch = ReplayBatch()
        func snapshot() -> Report { replayer.snapshot() }
        func apply(_ event: TraceEvent, _ i: Int) throws {
            do { try replayer.apply(event, at: batch.location(at: i)) } catch { throw reader.dataError(error) }
        }
        if countFrom == 0 {
            baseline = snapshot()
            lastWindow = baseline
        }
        while try reader.nextBatch(into: &batch) {
            for i in 0..<batch.count {
                let event = batch.event(at: i)
                guard case .access = event else {
                    try apply(event, i)
                    continue
                }
                accesses &+= 1
                if accesses <= windows.skip { continue }
                try apply(event, i)
                if accesses == countFrom {
                    baseline = snapshot()
                    lastWindow = baseline
                }
                if windows.window > 0, accesses > countFrom, (accesses - countFrom) % windows.window == 0, let previous = lastWindow {
                    let now = snapshot()
                    rows.append(WindowRow(endAccess: accesses - countFrom, accesses: accesses - countFrom - lastWindowEnd,
                                          counts: AccessWindows.difference(now, previous)))
                    lastWindow = now
                    lastWindowEnd = accesses - countFrom
                }
            }
        }
        if configuration.checkInvariants { try replayer.checkInvariants() }
        var report = replayer.finish()
        if windows.window > 0, let previous = lastWindow, accesses > countFrom, accesses - countFrom > lastWindowEnd {
            rows.append(WindowRow(endAccess: accesses - countFrom, accesses: accesses - countFrom - lastWindowEnd,
                                  counts: AccessWindows.difference(report, previous)))
        }
        if let baseline { report = AccessWindows.difference(report, baseline) } else {
            // The trace ended during the skip or the warmup: nothing was counted.
            report = AccessWindows.difference(report, report)
        }
        let elapsed = Date().timeIntervalSince(started)
        report.set("replay.skipped_accesses", min(accesses, windows.skip))
        report.set("replay.warmup_accesses", min(accesses &- min(accesses, windows.skip), windows.warmup))
        // Under --keep-going, events the kernel refused are skipped events too (as in `run`).
        let skipped = reader.skippedEvents + replayer.rejected
        report.set("replay.skipped_events", skipped)
        report.set("replay.wall_seconds", .real(elapsed))
        report.set("replay.events_per_second", .real(elapsed > 0 ? Double(replayer.events) / elapsed : 0))
        return WindowedResult(report: report, rows: rows, skipped: skipped,
                              samples: reader.skippedErrors + replayer.rejectedSamples.map(reader.dataError))
    }
}

extension Replayer {
    /// The report as it stands, without ending the replay (prefaulted pages not yet used are
    /// not counted as unused until the end).
    func snapshot() -> Report {
        ReportBuilder.build(configuration: configuration, kernel: kernel, events: events, eventsAfterKill: eventsAfterKill)
    }
}
