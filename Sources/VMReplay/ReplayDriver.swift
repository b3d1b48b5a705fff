// Replays a trace file: decode in batches, apply, report, with a progress callback.
import Foundation
import VMKernel
import VMTrace

/// Progress of a running replay, for a status line.
public struct ReplayProgress: Sendable {
    public var trace: TraceProgress
    public var elapsedSeconds: Double

    /// Estimated seconds left, when the input size is known.
    public var etaSeconds: Double? {
        guard let f = trace.fraction, f > 0.001 else { return nil }
        return elapsedSeconds * (1 - f) / f
    }
}

public enum ReplayDriver {
    /// Replays the trace at `path` (`-` for standard input) with `configuration`.
    /// `progress` is called about every `progressInterval` seconds. Errors: TraceError (bad
    /// input, exit code inside), ReplayError (exit 65).
    public static func run(path: String, configuration: ReplayConfiguration, keepGoing: Bool = false,
                           progressInterval: Double = 0.25,
                           progress: ((ReplayProgress) -> Void)? = nil,
                           console: ((String) -> Void)? = nil,
                           prepare: ((Replayer) -> Void)? = nil) throws -> (Report, skipped: Int, samples: [TraceError])
    {
        let started = Date()
        let reader = try TraceReader(path: path, options: .init(keepGoing: keepGoing, batchSize: 16384))
        let replayer = try Replayer(configuration)
        replayer.keepGoing = keepGoing
        replayer.kernel.console = console
        prepare?(replayer)
        var lastReport = started
        try BatchPipeline.run(reader: reader) { batch, traceProgress in
            try replayer.apply(batch)
            if let progress {
                let now = Date()
                if now.timeIntervalSince(lastReport) >= progressInterval {
                    lastReport = now
                    progress(ReplayProgress(trace: traceProgress,
                                            elapsedSeconds: now.timeIntervalSince(started)))
                }
            }
        }
        if configuration.checkInvariants { try replayer.checkInvariants() }
        var report = replayer.finish()
        let elapsed = Date().timeIntervalSince(started)
        // Under --keep-going, events the kernel refused are skipped events too.
        let skipped = reader.skippedEvents + replayer.rejected
        report.set("replay.skipped_events", skipped)
        report.set("replay.wall_seconds", .real(elapsed))
        report.set("replay.events_per_second", .real(elapsed > 0 ? Double(replayer.events) / elapsed : 0))
        let refusals = replayer.rejectedSamples.map(reader.dataError)
        return (report, skipped, reader.skippedErrors + refusals)
    }

    /// Inflates and parses every event without simulating anything (the benchmark's
    /// decode-only pass). Reports replay.events, replay.accesses and timing.
    public static func decodeOnly(path: String, keepGoing: Bool = false) throws -> Report {
        let started = Date()
        let reader = try TraceReader(path: path, options: .init(keepGoing: keepGoing, batchSize: 16384))
        var events: UInt64 = 0
        var accesses: UInt64 = 0
        // The batches a replay decodes (packed, runs marked), on this thread.
        var batch = ReplayBatch()
        while try reader.nextBatch(into: &batch) {
            events &+= UInt64(batch.count)
            for i in 0..<batch.count where batch.isAccess(at: i) { accesses &+= 1 }
        }
        let elapsed = Date().timeIntervalSince(started)
        var r = Report()
        r.set("replay.events", events)
        r.set("replay.accesses", accesses)
        r.set("replay.skipped_events", reader.skippedEvents)
        r.set("replay.wall_seconds", .real(elapsed))
        r.set("replay.events_per_second", .real(elapsed > 0 ? Double(events) / elapsed : 0))
        return r
    }
}
