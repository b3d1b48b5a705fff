// Whole-text outputs (reports, golden files, charts) written the same way as traces: under a
// temporary name in the destination directory, renamed into place only when complete.

/// Writes `text` to `path` atomically (`-` writes to standard output). Errors are TraceErrors
/// with exit codes 73 (cannot create) or 74 (I/O error).
public func writeTextFileAtomically(_ text: String, to path: String) throws {
    let file = try OutputFile(path: path)
    var text = text
    try text.withUTF8 { bytes in
        try file.output.write(UnsafeRawBufferPointer(bytes))
    }
    try file.commit()
}
