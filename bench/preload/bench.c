/*
 * Microbenchmark of the preload library's per-call cost. Run once untraced and once with LD_PRELOAD (by
 * bench/preload/run); prints one line per case: "<case> <wall ns per op> <cpu ns per op>" (cpu: this process's
 * CPU time, all threads, which is steadier than wall time on a shared machine).
 *
 *   open_read_close  open + read(4 KiB) + close of a small recorded file (an F record per iteration)
 *   open_close_ign   open + close of a file under ROAR_IGNORE
 *   write_1b_q<k>    1-byte write()s to one file, quarter k of the run (flat cost: all quarters equal)
 *   write_64k        64 KiB write()s to one file (streamed into BLAKE3), including the final close: the time the
 *                    program spends in write() and close() (the digest may still be finishing in the background)
 *   write_64k_proc   the same in a child process, fork to exit (cpu: the child's, all threads): the whole cost,
 *                    digest and F record included
 *   spawn_true       posix_spawn + wait of /bin/true (cpu: the child's): the per-process cost of the library
 *                    (loading it, its spool file, its exit flush)
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static double cpu(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return ts.tv_sec * 1e9 + ts.tv_nsec;
}

extern char **environ;

static double children_cpu(void) {
    struct rusage ru;
    getrusage(RUSAGE_CHILDREN, &ru);
    return (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e9 + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1e3;
}

static void die(const char *what) {
    perror(what);
    exit(1);
}

static void write_64k_file(const char *path, const char *buf, int count) {
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) die("out64");
    for (int i = 0; i < count; i++) {
        if (write(fd, buf, 65536) != 65536) die("write 64k");
    }
    close(fd);
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: bench WORKDIR IGNOREDDIR\n");
        return 2;
    }
    const char *dir = argv[1], *ign = argv[2];
    char small[4096], ignored[4096], out1[4096], out64[4096];
    snprintf(small, sizeof small, "%s/small.dat", dir);
    snprintf(ignored, sizeof ignored, "%s/ignored.dat", ign);
    snprintf(out1, sizeof out1, "%s/out1.dat", dir);
    snprintf(out64, sizeof out64, "%s/out64.dat", dir);
    static char buf[65536];
    memset(buf, 'x', sizeof buf);
    int fd = open(small, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0 || write(fd, buf, 4096) != 4096) die("small");
    close(fd);
    fd = open(ignored, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) die("ignored");
    close(fd);

    const int n_open = 100000;
    for (int warm = 0; warm < 2; warm++) {
        double t0 = now(), c0 = cpu();
        for (int i = 0; i < n_open; i++) {
            int f = open(small, O_RDONLY);
            if (f < 0 || read(f, buf, 4096) != 4096) die("read");
            close(f);
        }
        double t1 = now(), c1 = cpu();
        if (warm) printf("open_read_close %.1f %.1f\n", (t1 - t0) / n_open, (c1 - c0) / n_open);
    }
    for (int warm = 0; warm < 2; warm++) {
        double t0 = now(), c0 = cpu();
        for (int i = 0; i < n_open; i++) {
            int f = open(ignored, O_RDONLY);
            if (f < 0) die("open ignored");
            close(f);
        }
        double t1 = now(), c1 = cpu();
        if (warm) printf("open_close_ign %.1f %.1f\n", (t1 - t0) / n_open, (c1 - c0) / n_open);
    }

    const int n_1b = 400000;
    fd = open(out1, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) die("out1");
    for (int q = 0; q < 4; q++) {
        double t0 = now(), c0 = cpu();
        for (int i = 0; i < n_1b / 4; i++) {
            if (write(fd, buf, 1) != 1) die("write 1");
        }
        double t1 = now(), c1 = cpu();
        printf("write_1b_q%d %.1f %.1f\n", q + 1, (t1 - t0) / (n_1b / 4), (c1 - c0) / (n_1b / 4));
    }
    close(fd);

    const int n_64 = 2048; /* 128 MiB */
    for (int warm = 0; warm < 2; warm++) {
        double t0 = now(), c0 = cpu();
        write_64k_file(out64, buf, n_64);
        double t1 = now(), c1 = cpu();
        if (warm) printf("write_64k %.1f %.1f\n", (t1 - t0) / n_64, (c1 - c0) / n_64);
        unlink(out64); /* a new file each round: an open of the old one could wait for its digest */
    }
    for (int warm = 0; warm < 2; warm++) {
        fflush(stdout); /* or the child's exit prints it again */
        double t0 = now(), c0 = children_cpu();
        pid_t pid = fork();
        if (pid < 0) die("fork");
        if (pid == 0) {
            write_64k_file(out64, buf, n_64);
            exit(0); /* the library writes the F record before the process ends */
        }
        int st;
        if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0) die("write_64k child");
        double t1 = now(), c1 = children_cpu();
        if (warm) printf("write_64k_proc %.1f %.1f\n", (t1 - t0) / n_64, (c1 - c0) / n_64);
        unlink(out64);
    }
    unlink(out1);

    const int n_spawn = 300;
    for (int warm = 0; warm < 2; warm++) {
        double t0 = now(), c0 = children_cpu();
        for (int i = 0; i < n_spawn; i++) {
            char *args[] = {"/bin/true", NULL};
            pid_t pid;
            int st;
            if (posix_spawn(&pid, "/bin/true", NULL, NULL, args, environ) != 0) die("spawn");
            waitpid(pid, &st, 0);
        }
        double t1 = now(), c1 = children_cpu();
        if (warm) printf("spawn_true %.1f %.1f\n", (t1 - t0) / n_spawn, (c1 - c0) / n_spawn);
    }
    return 0;
}
