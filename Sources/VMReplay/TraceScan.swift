// Reading a trace's batches on a second thread for commands that do not replay (info).
import VMTrace

public enum TraceScan {
    /// Calls `body` with every batch of `reader`, in order, while the next ones are decoded.
    public static func run(reader: TraceReader, _ body: (ReplayBatch) throws -> Void) throws {
        try BatchPipeline.run(reader: reader) { batch, _ in try body(batch) }
    }
}
