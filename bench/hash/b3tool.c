/*
 * b3tool: a small command-line front end to roar's C BLAKE3, for the oracle tests (python/tests/test_blake3.py)
 * and the benchmark (bench/hash/run). Built straight from Sources/CBLAKE3 with cc, no Swift needed:
 *
 *   cc -O3 -D_GNU_SOURCE -pthread -I Sources/CBLAKE3/include Sources/CBLAKE3/[a-z]*.c bench/hash/b3tool.c -o b3tool
 *
 * Usage:
 *   b3tool [--kernel NAME] [--threads N] [--mmap] [--mode fd|oneshot|stream] [--seed S] FILE...   (b3sum lines)
 *   b3tool --list-kernels
 *   b3tool --speed [--kernel NAME] [--bytes N] [--seconds S]        (in-memory GiB/s of roar_blake3_hash)
 *   b3tool --files-from LIST                                        (paths one per line, "-" for stdin)
 *
 * Modes: fd hashes with roar_blake3_hash_fd_ex; oneshot reads the file and calls roar_blake3_hash; stream feeds
 * roar_blake3_update with pseudo-random split sizes (1 byte up to a few chunks, seeded by --seed).
 */
#include "roar_blake3.h"

#include <errno.h>
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
    if (mode == MODE_FD) {
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

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int speed(size_t bytes, double seconds) {
    uint8_t *buf = malloc(bytes);
    for (size_t i = 0; i < bytes; i++) {
        buf[i] = (uint8_t)(i * 131 + (i >> 11));
    }
    uint8_t out[32];
    roar_blake3_hash(buf, bytes, out); /* warm up */
    double start = now_seconds(), elapsed;
    size_t rounds = 0;
    do {
        roar_blake3_hash(buf, bytes, out);
        rounds++;
        elapsed = now_seconds() - start;
    } while (elapsed < seconds);
    printf("%s %.3f GiB/s (%zu bytes x %zu)\n", roar_blake3_kernel(), (double)bytes * (double)rounds / elapsed / (1u << 30),
           bytes, rounds);
    free(buf);
    return 0;
}

static char outbuf[1 << 16];

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
        } else if (strcmp(a, "--speed") == 0) {
            do_speed = 1;
        } else if (strcmp(a, "--bytes") == 0 && i + 1 < argc) {
            speed_bytes = strtoull(argv[++i], NULL, 10);
        } else if (strcmp(a, "--seconds") == 0 && i + 1 < argc) {
            speed_seconds = atof(argv[++i]);
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
    if (files_from != NULL) {
        FILE *list = strcmp(files_from, "-") == 0 ? stdin : fopen(files_from, "r");
        if (list == NULL) {
            perror(files_from);
            return 2;
        }
        char *line = NULL;
        size_t cap = 0;
        ssize_t n;
        while ((n = getline(&line, &cap, list)) > 0) {
            if (line[n - 1] == '\n') {
                line[n - 1] = '\0';
            }
            failures += emit(line, stderr);
        }
        free(line);
    }
    for (int i = first_file; i < argc; i++) {
        failures += emit(argv[i], stderr);
    }
    fflush(stdout);
    return failures ? 1 : 0;
}
