/*
 * b3tool: a small command-line front end to roar's C BLAKE3, for the oracle tests (python/tests/test_blake3.py)
 * and the benchmark (bench/hash/run). Built straight from Sources/CBLAKE3 with cc, no Swift needed:
 *
 *   cc -O3 -D_GNU_SOURCE -pthread -I Sources/CBLAKE3/include Sources/CBLAKE3/[a-z]*.c bench/hash/b3tool.c -o b3tool
 *
 * Usage:
 *   b3tool [--kernel NAME] [--threads N] [--mmap|--pread] [--mode fd|oneshot|stream] [--seed S] FILE... (b3sum lines)
 *          (fd mode without --mmap is what the preload library does: leased mapping, else pread; --pread: pread only)
 *   b3tool --list-kernels
 *   b3tool --speed [--kernel NAME] [--bytes N] [--seconds S]        (in-memory GiB/s of roar_blake3_hash)
 *   b3tool --files-from LIST                                        (paths one per line, "-" for stdin)
 *   b3tool --jobs N ...                                             (N threads over the files, as `roar hash`)
 *   b3tool --batch ...                                              (files in batches: roar_blake3_hash_fds)
 *   b3tool --fd-speed [--threads N] [--mmap] [--seconds S] FILE...  (wall time per roar_blake3_hash_fd_ex call)
 *   b3tool --update-speed [--seconds S]                             (ns per roar_blake3_update call by size)
 *   b3tool --truncate-during N ...   (fd mode: truncate each file to N bytes after the first piece is hashed, to
 *                                     test that a file shrinking under a mapped hash is re-read, not a crash)
 *
 * Modes: fd hashes with roar_blake3_hash_fd_ex; oneshot reads the file and calls roar_blake3_hash; stream feeds
 * roar_blake3_update with pseudo-random split sizes (1 byte up to a few chunks, seeded by --seed).
 */
#include "roar_blake3.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

enum mode { MODE_FD, MODE_ONESHOT, MODE_STREAM };

static int threads = 1;
static unsigned fd_flags = 0;
static enum mode mode = MODE_FD;
static uint64_t seed = 1;
static long long truncate_during = -1;

struct truncate_context {
    const char *path;
    int done;
};

static void truncate_on_progress(void *context, uint64_t done, uint64_t total) {
    struct truncate_context *t = context;
    (void)done;
    (void)total;
    if (!t->done) {
        t->done = 1;
        if (truncate(t->path, truncate_during) != 0) {
            perror("truncate");
        }
    }
}

static uint64_t next_random(uint64_t *state) {
    uint64_t x = *state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    *state = x;
    return x;
}

static uint8_t *read_all(int fd, size_t *len_out) {
    size_t cap = 1 << 16, len = 0;
    uint8_t *buf = malloc(cap);
    for (;;) {
        if (len == cap) {
            cap *= 2;
            buf = realloc(buf, cap);
        }
        ssize_t n = read(fd, buf + len, cap - len);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            free(buf);
            return NULL;
        }
        if (n == 0) {
            break;
        }
        len += (size_t)n;
    }
    *len_out = len;
    return buf;
}

static int hash_path(const char *path, uint8_t out[32]) {
    int fd = strcmp(path, "-") == 0 ? 0 : open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return -errno;
    }
    int rc = 0;
    if (mode == MODE_FD && truncate_during >= 0) {
        struct truncate_context t = {path, 0};
        rc = roar_blake3_hash_fd_progress(fd, threads, fd_flags, truncate_on_progress, &t, out);
    } else if (mode == MODE_FD) {
        rc = roar_blake3_hash_fd_ex(fd, threads, fd_flags, out);
    } else {
        size_t len = 0;
        uint8_t *data = read_all(fd, &len);
        if (data == NULL) {
            rc = -errno;
        } else if (mode == MODE_ONESHOT) {
            roar_blake3_hash(data, len, out);
        } else {
            roar_blake3_hasher h;
            roar_blake3_init(&h);
            uint64_t state = seed * 0x9E3779B97F4A7C15ull + 1;
            size_t pos = 0;
            while (pos < len) {
                uint64_t r = next_random(&state);
                size_t piece;
                switch (r % 4) {
                case 0: piece = 1; break;
                case 1: piece = (size_t)(r >> 8) % 65; break;
                case 2: piece = (size_t)(r >> 8) % 2100; break;
                default: piece = (size_t)(r >> 8) % 70000; break;
                }
                if (piece > len - pos) {
                    piece = len - pos;
                }
                roar_blake3_update(&h, data + pos, piece);
                pos += piece;
                if ((r >> 40) % 7 == 0) {
                    uint8_t scratch[32];
                    roar_blake3_finalize(&h, scratch); /* finalize must not disturb the state */
                }
            }
            roar_blake3_finalize(&h, out);
        }
        free(data);
    }
    if (fd != 0) {
        close(fd);
    }
    return rc;
}

static double clock_seconds(clockid_t clock) {
    struct timespec ts;
    clock_gettime(clock, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int speed(size_t bytes, double seconds) {
    uint8_t *buf = malloc(bytes);
    for (size_t i = 0; i < bytes; i++) {
        buf[i] = (uint8_t)(i * 131 + (i >> 11));
    }
    uint8_t out[32];
    roar_blake3_hash(buf, bytes, out); /* warm up */
    /* Thread CPU time, so other load on the machine does not count against the kernel. */
    double start = clock_seconds(CLOCK_THREAD_CPUTIME_ID), wall_start = clock_seconds(CLOCK_MONOTONIC), elapsed;
    size_t rounds = 0;
    do {
        roar_blake3_hash(buf, bytes, out);
        rounds++;
        elapsed = clock_seconds(CLOCK_THREAD_CPUTIME_ID) - start;
    } while (elapsed < seconds);
    double wall = clock_seconds(CLOCK_MONOTONIC) - wall_start;
    double total = (double)bytes * (double)rounds / (1u << 30);
    printf("%s %.3f GiB/s cpu, %.3f GiB/s wall (%zu bytes x %zu)\n", roar_blake3_kernel(), total / elapsed,
           total / wall, bytes, rounds);
    free(buf);
    return 0;
}

static int fd_speed(char **paths, size_t count, double seconds) {
    for (size_t i = 0; i < count; i++) {
        int fd = open(paths[i], O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            perror(paths[i]);
            return 1;
        }
        struct stat st;
        fstat(fd, &st);
        uint8_t out[32];
        roar_blake3_hash_fd_ex(fd, threads, fd_flags, out); /* warm up */
        double best = 1e9, start = clock_seconds(CLOCK_MONOTONIC);
        size_t calls = 0;
        do {
            double t0 = clock_seconds(CLOCK_MONOTONIC);
            roar_blake3_hash_fd_ex(fd, threads, fd_flags, out);
            double t = clock_seconds(CLOCK_MONOTONIC) - t0;
            if (t < best) {
                best = t;
            }
            calls++;
        } while (clock_seconds(CLOCK_MONOTONIC) - start < seconds);
        close(fd);
        printf("%lld bytes, threads %d: best %.1f us per file, %.3f GiB/s (%zu calls)\n", (long long)st.st_size,
               threads, best * 1e6, (double)st.st_size / best / (1u << 30), calls);
    }
    return 0;
}

static int update_speed(double seconds) {
    static const size_t sizes[] = {1, 7, 64, 65, 1000, 1024, 4096, 65536, 1 << 20};
    size_t total = 64u << 20;
    uint8_t *buf = malloc(total);
    memset(buf, 0x5a, total);
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        size_t piece = sizes[s];
        roar_blake3_hasher h;
        roar_blake3_init(&h);
        double start = clock_seconds(CLOCK_THREAD_CPUTIME_ID), elapsed;
        size_t calls = 0, pos = 0;
        do {
            for (int k = 0; k < 1024; k++) {
                if (pos + piece > total) {
                    pos = 0;
                }
                roar_blake3_update(&h, buf + pos, piece);
                pos += piece;
                calls++;
            }
            elapsed = clock_seconds(CLOCK_THREAD_CPUTIME_ID) - start;
        } while (elapsed < seconds);
        uint8_t out[32];
        roar_blake3_finalize(&h, out);
        printf("update(%7zu bytes): %8.1f ns per call, %.3f GiB/s\n", piece, elapsed / (double)calls * 1e9,
               (double)calls * (double)piece / elapsed / (1u << 30));
    }
    free(buf);
    return 0;
}

static char outbuf[1 << 16];

/* Files hashed by --jobs workers: digests land in order, printed once all are done. */
struct file_list {
    char **paths;
    size_t count;
    uint8_t (*digests)[32];
    int *status;
    _Atomic size_t next;
};

static int use_batch = 0;
#define BATCH_FILES 64

static void *list_worker(void *arg) {
    struct file_list *list = arg;
    if (use_batch) {
        void *scratch = malloc(ROAR_BLAKE3_BATCH_SCRATCH);
        for (;;) {
            size_t first = atomic_fetch_add(&list->next, BATCH_FILES);
            if (first >= list->count) {
                break;
            }
            size_t n = list->count - first < BATCH_FILES ? list->count - first : BATCH_FILES;
            int fds[BATCH_FILES];
            for (size_t k = 0; k < n; k++) {
                fds[k] = open(list->paths[first + k], O_RDONLY | O_CLOEXEC);
            }
            int results[BATCH_FILES];
            roar_blake3_hash_fds(n, fds, threads, fd_flags, scratch, list->digests + first, results);
            for (size_t k = 0; k < n; k++) {
                list->status[first + k] = fds[k] < 0 ? -ENOENT : results[k];
                if (fds[k] >= 0) {
                    close(fds[k]);
                }
            }
        }
        free(scratch);
        return NULL;
    }
    for (;;) {
        size_t i = atomic_fetch_add(&list->next, 1);
        if (i >= list->count) {
            return NULL;
        }
        list->status[i] = hash_path(list->paths[i], list->digests[i]);
    }
}

static int hash_list(char **paths, size_t count, int jobs) {
    struct file_list list = {paths, count, malloc(count * 32), malloc(count * sizeof(int)), 0};
    pthread_t tids[64];
    int started = 0;
    for (int j = 1; j < jobs && j < 64; j++) {
        if (pthread_create(&tids[started], NULL, list_worker, &list) == 0) {
            started++;
        }
    }
    list_worker(&list);
    for (int j = 0; j < started; j++) {
        pthread_join(tids[j], NULL);
    }
    int failures = 0;
    for (size_t i = 0; i < count; i++) {
        if (list.status[i] != 0) {
            fprintf(stderr, "b3tool: %s: %s\n", paths[i], strerror(-list.status[i]));
            failures++;
            continue;
        }
        char hex[65];
        roar_blake3_hex(list.digests[i], hex);
        printf("%s  %s\n", hex, paths[i]);
    }
    free(list.digests);
    free(list.status);
    return failures;
}

static int emit(const char *path, FILE *err) {
    uint8_t digest[32];
    int rc = hash_path(path, digest);
    if (rc != 0) {
        fprintf(err, "b3tool: %s: %s\n", path, strerror(-rc));
        return 1;
    }
    char hex[65];
    roar_blake3_hex(digest, hex);
    printf("%s  %s\n", hex, path);
    return 0;
}

int main(int argc, char **argv) {
    setvbuf(stdout, outbuf, _IOFBF, sizeof outbuf);
    int first_file = argc, failures = 0, do_speed = 0;
    size_t speed_bytes = 16u << 20;
    double speed_seconds = 1.0;
    const char *files_from = NULL;
    int jobs = 1, do_fd_speed = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--kernel") == 0 && i + 1 < argc) {
            if (roar_blake3_force_kernel(argv[++i]) != 0) {
                fprintf(stderr, "b3tool: kernel %s is not available on this CPU\n", argv[i]);
                return 2;
            }
        } else if (strcmp(a, "--threads") == 0 && i + 1 < argc) {
            threads = atoi(argv[++i]);
        } else if (strcmp(a, "--mmap") == 0) {
            fd_flags |= ROAR_BLAKE3_FD_MMAP;
        } else if (strcmp(a, "--pread") == 0) {
            fd_flags |= ROAR_BLAKE3_FD_PREAD;
        } else if (strcmp(a, "--seed") == 0 && i + 1 < argc) {
            seed = strtoull(argv[++i], NULL, 10);
        } else if (strcmp(a, "--mode") == 0 && i + 1 < argc) {
            const char *m = argv[++i];
            mode = strcmp(m, "oneshot") == 0 ? MODE_ONESHOT : strcmp(m, "stream") == 0 ? MODE_STREAM : MODE_FD;
        } else if (strcmp(a, "--list-kernels") == 0) {
            const char *names[] = {"portable", "sse41", "avx2", "avx512"};
            for (int k = 0; k < 4; k++) {
                if (roar_blake3_force_kernel(names[k]) == 0) {
                    printf("%s\n", names[k]);
                }
            }
            return 0;
        } else if (strcmp(a, "--fd-speed") == 0) {
            do_fd_speed = 1;
        } else if (strcmp(a, "--update-speed") == 0) {
            return update_speed(speed_seconds);
        } else if (strcmp(a, "--speed") == 0) {
            do_speed = 1;
        } else if (strcmp(a, "--bytes") == 0 && i + 1 < argc) {
            speed_bytes = strtoull(argv[++i], NULL, 10);
        } else if (strcmp(a, "--seconds") == 0 && i + 1 < argc) {
            speed_seconds = atof(argv[++i]);
        } else if (strcmp(a, "--truncate-during") == 0 && i + 1 < argc) {
            truncate_during = atoll(argv[++i]);
        } else if (strcmp(a, "--batch") == 0) {
            use_batch = 1;
        } else if (strcmp(a, "--jobs") == 0 && i + 1 < argc) {
            jobs = atoi(argv[++i]);
        } else if (strcmp(a, "--files-from") == 0 && i + 1 < argc) {
            files_from = argv[++i];
        } else if (strcmp(a, "--") == 0) {
            first_file = i + 1;
            break;
        } else {
            first_file = i;
            break;
        }
    }
    if (do_speed) {
        return speed(speed_bytes, speed_seconds);
    }
    char **paths = NULL;
    size_t count = 0, cap = 0;
    if (files_from != NULL) {
        FILE *list = strcmp(files_from, "-") == 0 ? stdin : fopen(files_from, "r");
        if (list == NULL) {
            perror(files_from);
            return 2;
        }
        char *line = NULL;
        size_t line_cap = 0;
        ssize_t n;
        while ((n = getline(&line, &line_cap, list)) > 0) {
            if (line[n - 1] == '\n') {
                line[n - 1] = '\0';
            }
            if (count == cap) {
                cap = cap ? 2 * cap : 1024;
                paths = realloc(paths, cap * sizeof *paths);
            }
            paths[count++] = strdup(line);
        }
        free(line);
    }
    for (int i = first_file; i < argc; i++) {
        if (count == cap) {
            cap = cap ? 2 * cap : 1024;
            paths = realloc(paths, cap * sizeof *paths);
        }
        paths[count++] = argv[i];
    }
    if (do_fd_speed) {
        return fd_speed(paths, count, speed_seconds);
    }
    if (jobs > 1 || use_batch) {
        failures = hash_list(paths, count, jobs);
    } else {
        for (size_t i = 0; i < count; i++) {
            failures += emit(paths[i], stderr);
        }
    }
    fflush(stdout);
    return failures ? 1 : 0;
}
