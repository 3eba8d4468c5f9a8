/*
 * Many small inputs at once. A 4 KiB file has only four chunks, so on its own it fills a quarter of an AVX-512
 * kernel call; here the chunks of many inputs share the SIMD lanes (pointer-per-lane kernels), and so do the
 * parents of each tree level, and the roots. This is what makes hashing many small files cheap.
 */
#include "roar_blake3.h"

#include "blake3_internal.h"

#include <errno.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#define CHUNK_LEN ROAR_BLAKE3_CHUNK_LEN
#define OUT_LEN ROAR_BLAKE3_OUT_LEN

/* Inputs up to this size are batched (each is at most BATCH_MAX_BYTES / 1024 chunks). */
#define BATCH_MAX_BYTES (16u * 1024u)
/* Chunks per group: the chaining values of a group live on the stack. */
#define GROUP_CHUNKS 256u

static const uint64_t zero_counters[GROUP_CHUNKS];

/* Every input here is 1025..BATCH_MAX_BYTES long, and their chunks add up to at most GROUP_CHUNKS. */
static void hash_group(size_t count, const uint8_t *const *inputs, const size_t *lengths, uint8_t (*const *outs)[32]) {
    uint8_t cvs[GROUP_CHUNKS * OUT_LEN];
    uint8_t results[GROUP_CHUNKS * OUT_LEN];
    const uint8_t *lanes[GROUP_CHUNKS];
    uint64_t counters[GROUP_CHUNKS];
    uint16_t slots[GROUP_CHUNKS];
    uint16_t offset[GROUP_CHUNKS / 2], remaining[GROUP_CHUNKS / 2], root_of[GROUP_CHUNKS / 2];

    /* Leaves: every whole chunk of every input through the kernels; a partial last chunk on its own. */
    size_t lane_count = 0, total = 0;
    for (size_t j = 0; j < count; j++) {
        size_t full = lengths[j] / CHUNK_LEN, rest = lengths[j] % CHUNK_LEN;
        offset[j] = (uint16_t)total;
        remaining[j] = (uint16_t)(full + (rest != 0));
        for (size_t c = 0; c < full; c++) {
            lanes[lane_count] = inputs[j] + c * CHUNK_LEN;
            counters[lane_count] = c;
            slots[lane_count] = (uint16_t)(total + c);
            lane_count++;
        }
        if (rest != 0) {
            roar_b3_chunk_cv(inputs[j] + full * CHUNK_LEN, rest, full, 0, cvs + (total + full) * OUT_LEN);
        }
        total += remaining[j];
    }
    if (lane_count > 0) {
        roar_b3_hash_lanes(lanes, counters, lane_count, CHUNK_LEN / 64, 0, ROAR_B3_CHUNK_START, ROAR_B3_CHUNK_END,
                           results);
    }
    for (size_t i = 0; i < lane_count; i++) {
        memcpy(cvs + (size_t)slots[i] * OUT_LEN, results + i * OUT_LEN, OUT_LEN);
    }

    /* Parents level by level, all inputs together; an input down to two values gets its root in the same pass. */
    for (;;) {
        size_t pairs = 0, roots = 0;
        for (size_t j = 0; j < count; j++) {
            if (remaining[j] > 2) {
                for (size_t p = 0; p < remaining[j] / 2u; p++) {
                    lanes[pairs] = cvs + (offset[j] + 2 * p) * OUT_LEN;
                    slots[pairs] = (uint16_t)(offset[j] + p);
                    pairs++;
                }
            }
        }
        const uint8_t *root_lanes[GROUP_CHUNKS / 2];
        for (size_t j = 0; j < count; j++) {
            if (remaining[j] == 2) {
                root_lanes[roots] = cvs + offset[j] * OUT_LEN;
                root_of[roots] = (uint16_t)j;
                roots++;
            }
        }
        if (pairs == 0 && roots == 0) {
            return;
        }
        if (roots > 0) {
            roar_b3_hash_lanes(root_lanes, zero_counters, roots, 1, ROAR_B3_PARENT | ROAR_B3_ROOT, 0, 0, results);
            for (size_t r = 0; r < roots; r++) {
                memcpy(*outs[root_of[r]], results + r * OUT_LEN, OUT_LEN);
                remaining[root_of[r]] = 0;
            }
        }
        if (pairs > 0) {
            roar_b3_hash_lanes(lanes, zero_counters, pairs, 1, ROAR_B3_PARENT, 0, 0, results);
            for (size_t i = 0; i < pairs; i++) {
                memcpy(cvs + (size_t)slots[i] * OUT_LEN, results + i * OUT_LEN, OUT_LEN);
            }
            for (size_t j = 0; j < count; j++) {
                if (remaining[j] > 2) {
                    size_t n = remaining[j];
                    if (n & 1) {
                        memmove(cvs + (offset[j] + n / 2) * OUT_LEN, cvs + (offset[j] + n - 1) * OUT_LEN, OUT_LEN);
                    }
                    remaining[j] = (uint16_t)(n / 2 + (n & 1));
                }
            }
        }
    }
}

/* Collects inputs into groups; inputs that do not batch are hashed at once. */
struct batcher {
    size_t count, chunks;
    const uint8_t *inputs[GROUP_CHUNKS / 2];
    size_t lengths[GROUP_CHUNKS / 2];
    uint8_t (*outs[GROUP_CHUNKS / 2])[32];
};

static void batcher_flush(struct batcher *b) {
    if (b->count > 0) {
        hash_group(b->count, b->inputs, b->lengths, b->outs);
    }
    b->count = 0;
    b->chunks = 0;
}

static void batcher_add(struct batcher *b, const uint8_t *input, size_t len, uint8_t (*out)[32]) {
    if (len <= CHUNK_LEN) {
        roar_b3_chunk_cv(input, len, 0, 1, *out);
        return;
    }
    if (len > BATCH_MAX_BYTES) {
        roar_blake3_hash(input, len, *out);
        return;
    }
    size_t chunks = (len + CHUNK_LEN - 1) / CHUNK_LEN;
    if (b->chunks + chunks > GROUP_CHUNKS || b->count == GROUP_CHUNKS / 2) {
        batcher_flush(b);
    }
    b->inputs[b->count] = input;
    b->lengths[b->count] = len;
    b->outs[b->count] = out;
    b->count++;
    b->chunks += chunks;
}

void roar_blake3_hash_inputs(size_t count, const void *const inputs[], const size_t lengths[],
                             uint8_t (*outs)[ROAR_BLAKE3_OUT_LEN]) {
    struct batcher b;
    b.count = 0;
    b.chunks = 0;
    for (size_t i = 0; i < count; i++) {
        batcher_add(&b, (const uint8_t *)inputs[i], lengths[i], &outs[i]);
    }
    batcher_flush(&b);
}

#if defined(__linux__)
#define RAW_PREAD(fd, buf, len, offset) syscall(SYS_pread64, fd, buf, len, (off_t)(offset))
#else
#define RAW_PREAD(fd, buf, len, offset) pread(fd, buf, len, (off_t)(offset))
#endif

void roar_blake3_hash_fds(size_t count, const int fds[], int threads, unsigned flags, void *scratch,
                          uint8_t (*outs)[ROAR_BLAKE3_OUT_LEN], int results[]) {
    int saved_errno = errno;
    uint8_t *space = (uint8_t *)scratch;
    size_t used = 0;
    struct batcher b;
    b.count = 0;
    b.chunks = 0;
    for (size_t i = 0; i < count; i++) {
        /* No fstat: a short pread of a regular file means end of file; a pipe, socket or terminal answers ESPIPE
         * without consuming anything and goes to the streaming path, as do files that fill the whole buffer. */
        if (used + BATCH_MAX_BYTES > ROAR_BLAKE3_BATCH_SCRATCH) {
            batcher_flush(&b);
            used = 0;
        }
        long n;
        do {
            n = RAW_PREAD(fds[i], space + used, BATCH_MAX_BYTES, 0);
        } while (n < 0 && errno == EINTR);
        if (n < 0 && errno != ESPIPE && errno != EINVAL) {
            results[i] = -errno;
        } else if (n < 0 || (size_t)n == BATCH_MAX_BYTES) {
            results[i] = roar_blake3_hash_fd_ex(fds[i], threads, flags, outs[i]); /* not seekable, or large */
        } else {
            results[i] = 0;
            batcher_add(&b, space + used, (size_t)n, &outs[i]);
            used += ((size_t)n + 63) & ~(size_t)63;
        }
    }
    batcher_flush(&b);
    errno = saved_errno;
}
