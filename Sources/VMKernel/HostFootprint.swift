// Read-only counts of what a replay holds in host memory, for a caller's memory budget
// (`vmreplay sweep --max-memory`). Nothing here changes the simulation.
extension Kernel {
    /// Live processes (each with its map, pmap and top page-table page).
    public var processCount: Int { procs.count }
    /// Declared files (vnodes with their objects).
    public var fileCount: Int { files.count }
    /// vm_page structures created so far (frames never touched cost nothing).
    public var pageFramesCreated: Int { physmem.frameCount }
    /// Map entries over all live processes.
    public var mapEntryCount: Int { procs.values.reduce(0) { $0 + $1.map.entries.count } }
}
