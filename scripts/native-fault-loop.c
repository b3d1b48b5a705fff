/*
 * The native yardstick for scripts/bench.sh: the first-touch loop that
 * `vmreplay gen seq-anon --size 8G --stride 4K` describes, run on the real
 * kernel. Maps 1 GiB of anonymous memory, writes one byte per 4 KiB page,
 * unmaps it, 8 times over: 2,097,152 zero-fill faults. Each round of the
 * loop is timed with CLOCK_MONOTONIC and the fastest of RUNS rounds counts.
 *
 * Prints one line a script can parse:
 *   faults=2097152 seconds=0.512345 faults_per_second=4093457 minflt=2097160
 * where minflt is the kernel's own count of minor faults in the fastest
 * round (getrusage), a check that every page really faulted once.
 *
 *   cc -O2 -o native-fault-loop scripts/native-fault-loop.c
 *   ./native-fault-loop [RUNS]
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <time.h>

enum { PAGE = 4096, MAPPINGS = 8 };
static const size_t region = (size_t)1 << 30;

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static long minor_faults(void)
{
    struct rusage usage;
    getrusage(RUSAGE_SELF, &usage);
    return usage.ru_minflt;
}

int main(int argc, char **argv)
{
    int runs = argc > 1 ? atoi(argv[1]) : 1;
    if (runs < 1) {
        fprintf(stderr, "usage: %s [RUNS >= 1]\n", argv[0]);
        return 64;
    }
    double best = 0;
    long best_minflt = 0;
    for (int run = 0; run < runs; run++) {
        long minflt_before = minor_faults();
        double start = now();
        for (int m = 0; m < MAPPINGS; m++) {
            volatile char *p = mmap(NULL, region, PROT_READ | PROT_WRITE,
                                    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
            if (p == MAP_FAILED) {
                perror("native-fault-loop: mmap");
                return 71;
            }
#ifdef MADV_NOHUGEPAGE
            /* One fault per 4 KiB page, as in the trace: no transparent huge pages. */
            madvise((void *)p, region, MADV_NOHUGEPAGE);
#endif
            for (size_t offset = 0; offset < region; offset += PAGE)
                p[offset] = 1;
            munmap((void *)p, region);
        }
        double seconds = now() - start;
        long minflt = minor_faults() - minflt_before;
        if (run == 0 || seconds < best) {
            best = seconds;
            best_minflt = minflt;
        }
    }
    long faults = (long)MAPPINGS * (long)(region / PAGE);
    printf("faults=%ld seconds=%.6f faults_per_second=%.0f minflt=%ld\n",
           faults, best, (double)faults / best, best_minflt);
    return 0;
}
