/* What a blocking round trip between two processes costs on this machine: the floor under one
 * request in flight when its client and its server cannot each keep a core (two busy clients
 * on two cores), where each request costs two sleeps and two wake-ups.
 *
 *   round_trip N   two processes on one core (the caller's first allowed CPU) pass one byte
 *                  back and forth over a Unix socket, N times: each round trip is two context
 *                  switches and four system calls, and no work.
 *
 * Prints one RESULT line (common.h) with system=platform.
 */
#define _GNU_SOURCE
#include <sched.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common.h"

int main(int argc, char **argv)
{
    if (argc < 2) DIE("usage: round_trip N");
    const size_t n = strtoull(argv[1], NULL, 10);
    cpu_set_t allowed, one;
    if (sched_getaffinity(0, sizeof allowed, &allowed) != 0) DIE("sched_getaffinity");
    CPU_ZERO(&one);
    for (int cpu = 0; cpu < CPU_SETSIZE; cpu++) {
        if (CPU_ISSET(cpu, &allowed)) {
            CPU_SET(cpu, &one);
            break;
        }
    }
    if (sched_setaffinity(0, sizeof one, &one) != 0) DIE("sched_setaffinity");
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0) DIE("socketpair");
    const size_t warm = n / 10 + 1;
    char c = 'x';
    pid_t echo = fork();
    if (echo < 0) DIE("fork");
    if (echo == 0) {
        for (size_t i = 0; i < warm + n; i++) {
            if (read(sv[1], &c, 1) != 1 || write(sv[1], &c, 1) != 1) _exit(1);
        }
        _exit(0);
    }
    uint64_t *lat = alloc_lat(n);
    uint64_t t0 = 0;
    for (size_t i = 0; i < warm + n; i++) {
        if (i == warm) t0 = now_ns();
        uint64_t a = now_ns();
        if (write(sv[0], &c, 1) != 1 || read(sv[0], &c, 1) != 1) DIE("round trip failed");
        if (i >= warm) lat[i - warm] = now_ns() - a;
    }
    uint64_t total = now_ns() - t0;
    int status = 0;
    waitpid(echo, &status, 0);
    report("platform", "blocking_round_trip_one_core", lat, n, total);
    free(lat);
    return 0;
}
