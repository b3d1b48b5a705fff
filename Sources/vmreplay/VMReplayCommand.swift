// The `vmreplay` command: the root of the subcommand tree.

import ArgumentParser

@main
struct VMReplayCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vmreplay",
        abstract: "Replay memory-access traces through a simulation of DragonFly BSD's page-fault path.",
        discussion: """
            A trace is a list of events: processes and files appear (proc, fork, file), \
            address spaces change (mmap, munmap, mprotect, madvise, mlock), and memory is \
            touched (r, w, x reads/writes/fetches; kr, kw kernel copyin/copyout; peek, poke \
            from a debugger). Traces come as text ("vmtrace 1", one event per line) or as the \
            compact binary .vmt form, either one optionally gzip-compressed; every command \
            detects the format from the file's first bytes, and "-" means standard input.

            A minimal text trace:

              vmtrace 1
              proc 1
              mmap 1 0x10000000 64K rw- private anon
              w 1 0x10000000 8
              r 1 0x10000ff8 8

            Examples:
              vmreplay replay traces/ls.vmt.gz            what DragonFly would have counted
              vmreplay replay t.vmt.gz -s vm.shared_fault=0 --format json
              vmreplay sweep t.vmt.gz -s vm.prefault_pages=0..32:x2 -s vm.shared_fault=0,1 --plot sweep.svg
              vmreplay check t.vmt.gz --expect t.json     regression check (--update rewrites)
              vmreplay sysctl -d                          every tunable -s accepts
              scripts/record.sh ls -l -o ls.vmt.gz        record your own program (Valgrind)
              vmreplay import lackey lk.*.log -o t.vmt     import Valgrind Lackey logs
              vmreplay gen fork-server -o t.vmt.gz        synthetic workloads (see gen --help)
              vmreplay info t.vmt.gz                      what a trace contains
              vmreplay convert t.txt t.vmt.gz             text <-> binary, gzip by .gz

            Exit status: 0 success, 1 check found differences, 64 usage error, 65 malformed trace, 66 missing or \
            unreadable input, 73 output cannot be created, 74 I/O error.
            """,
        subcommands: [Replay.self, SweepCommand.self, Check.self, DiffCommand.self, Convert.self, Import.self, Info.self, Gen.self, SysctlCommand.self, Merge.self]
    )
}
