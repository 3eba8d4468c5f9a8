/*
 * Internal declarations shared by the BLAKE3 sources (not part of the public header).
 *
 * Every kernel implements one operation, "hash many": `count` independent inputs, each made of
 * `blocks` whole 64-byte blocks, input i starting at `input + i * stride`. Input i uses the chunk
 * counter `counter + i` (when `increment_counter`) or `counter`; every block gets `flags`, the
 * first block also `flags_start`, the last block also `flags_end`. The 32-byte chaining value of
 * input i is written to `out + 32 * i`. Chunks are `blocks = 16, stride = 1024`; parents are
 * `blocks = 1, stride = 64` over an array of chaining values.
 */
#ifndef ROAR_BLAKE3_INTERNAL_H
#define ROAR_BLAKE3_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define ROAR_B3_HIDDEN __attribute__((visibility("hidden")))

enum {
    ROAR_B3_CHUNK_START = 1u << 0,
    ROAR_B3_CHUNK_END = 1u << 1,
    ROAR_B3_PARENT = 1u << 2,
    ROAR_B3_ROOT = 1u << 3,
};

/* The initial chaining value (the SHA-256 IV), used as the key in plain hashing mode. */
static const uint32_t roar_b3_iv[8] = {
    0x6A09E667u, 0xBB67AE85u, 0x3C6EF372u, 0xA54FF53Au, 0x510E527Fu, 0x9B05688Cu, 0x1F83D9ABu, 0x5BE0CD19u,
};

/* Message word order for each of the 7 rounds: round r reads word schedule[r][i] as its i-th word. */
static const uint8_t roar_b3_schedule[7][16] = {
    {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15},
    {2, 6, 3, 10, 7, 0, 4, 13, 1, 11, 12, 5, 9, 14, 15, 8},
    {3, 4, 10, 12, 13, 2, 7, 14, 6, 5, 9, 0, 11, 15, 8, 1},
    {10, 7, 12, 9, 14, 3, 13, 15, 4, 0, 11, 2, 5, 8, 1, 6},
    {12, 13, 9, 11, 15, 10, 14, 8, 7, 2, 5, 3, 0, 1, 6, 4},
    {9, 14, 11, 5, 8, 12, 15, 1, 13, 3, 0, 10, 2, 6, 4, 7},
    {11, 15, 5, 0, 1, 9, 8, 6, 14, 10, 2, 12, 3, 4, 7, 13},
};

static inline uint32_t roar_b3_load32(const uint8_t *p) {
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

static inline void roar_b3_store32(uint8_t *p, uint32_t w) {
    p[0] = (uint8_t)w;
    p[1] = (uint8_t)(w >> 8);
    p[2] = (uint8_t)(w >> 16);
    p[3] = (uint8_t)(w >> 24);
}

typedef void (*roar_b3_many_fn)(const uint8_t *input, size_t stride, size_t count, size_t blocks,
                                const uint32_t key[8], uint64_t counter, int increment_counter, uint8_t flags,
                                uint8_t flags_start, uint8_t flags_end, uint8_t *out);

/* The same for inputs anywhere in memory, input i with chunk counter counters[i]. */
typedef void (*roar_b3_lanes_fn)(const uint8_t *const *inputs, const uint64_t *counters, size_t count, size_t blocks,
                                 const uint32_t key[8], uint8_t flags, uint8_t flags_start, uint8_t flags_end,
                                 uint8_t *out);

/* Dispatcher (blake3.c): the widest kernel in use, any count. */
ROAR_B3_HIDDEN void roar_b3_hash_lanes(const uint8_t *const *inputs, const uint64_t *counters, size_t count,
                                       size_t blocks, uint8_t flags, uint8_t flags_start, uint8_t flags_end,
                                       uint8_t *out);
/* Chaining value (or root output) of one chunk of 0..1024 bytes. */
ROAR_B3_HIDDEN void roar_b3_chunk_cv(const uint8_t *input, size_t len, uint64_t counter, int is_root, uint8_t out[32]);

/* One compression of one block, chaining value updated in place (first 8 output words). */
ROAR_B3_HIDDEN void roar_b3_compress_portable(uint32_t cv[8], const uint8_t block[64], uint8_t block_len,
                                              uint64_t counter, uint8_t flags);

ROAR_B3_HIDDEN void roar_b3_many_portable(const uint8_t *input, size_t stride, size_t count, size_t blocks,
                                          const uint32_t key[8], uint64_t counter, int increment_counter,
                                          uint8_t flags, uint8_t flags_start, uint8_t flags_end, uint8_t *out);

/* Chaining value (or root output when is_root) of the BLAKE3 subtree over `input`, first chunk index `counter`. */
ROAR_B3_HIDDEN void roar_b3_subtree_cv(const uint8_t *input, size_t len, uint64_t counter, int is_root,
                                       uint8_t out[32]);
ROAR_B3_HIDDEN void roar_b3_parent_cv(const uint8_t left_right[64], int is_root, uint8_t out[32]);

#if defined(__x86_64__) || defined(__i386__)
#define ROAR_B3_X86 1
/* SIMD kernels: each hashes exactly 4, 8 or 16 inputs (count is ignored beyond that width). */
ROAR_B3_HIDDEN void roar_b3_many4_sse41(const uint8_t *input, size_t stride, size_t count, size_t blocks,
                                        const uint32_t key[8], uint64_t counter, int increment_counter,
                                        uint8_t flags, uint8_t flags_start, uint8_t flags_end, uint8_t *out);
ROAR_B3_HIDDEN void roar_b3_many8_avx2(const uint8_t *input, size_t stride, size_t count, size_t blocks,
                                       const uint32_t key[8], uint64_t counter, int increment_counter,
                                       uint8_t flags, uint8_t flags_start, uint8_t flags_end, uint8_t *out);
ROAR_B3_HIDDEN void roar_b3_many16_avx512(const uint8_t *input, size_t stride, size_t count, size_t blocks,
                                          const uint32_t key[8], uint64_t counter, int increment_counter,
                                          uint8_t flags, uint8_t flags_start, uint8_t flags_end, uint8_t *out);
ROAR_B3_HIDDEN void roar_b3_lanes4_sse41(const uint8_t *const *inputs, const uint64_t *counters, size_t count,
                                         size_t blocks, const uint32_t key[8], uint8_t flags, uint8_t flags_start,
                                         uint8_t flags_end, uint8_t *out);
ROAR_B3_HIDDEN void roar_b3_lanes8_avx2(const uint8_t *const *inputs, const uint64_t *counters, size_t count,
                                        size_t blocks, const uint32_t key[8], uint8_t flags, uint8_t flags_start,
                                        uint8_t flags_end, uint8_t *out);
ROAR_B3_HIDDEN void roar_b3_lanes16_avx512(const uint8_t *const *inputs, const uint64_t *counters, size_t count,
                                           size_t blocks, const uint32_t key[8], uint8_t flags, uint8_t flags_start,
                                           uint8_t flags_end, uint8_t *out);
ROAR_B3_HIDDEN void roar_b3_lanes8_avx512vl(const uint8_t *const *inputs, const uint64_t *counters, size_t count,
                                            size_t blocks, const uint32_t key[8], uint8_t flags, uint8_t flags_start,
                                            uint8_t flags_end, uint8_t *out);
ROAR_B3_HIDDEN void roar_b3_lanes4_avx512vl(const uint8_t *const *inputs, const uint64_t *counters, size_t count,
                                            size_t blocks, const uint32_t key[8], uint8_t flags, uint8_t flags_start,
                                            uint8_t flags_end, uint8_t *out);
/* One block at a time, state in 128-bit rows. */
ROAR_B3_HIDDEN void roar_b3_compress_sse41(uint32_t cv[8], const uint8_t block[64], uint8_t block_len,
                                           uint64_t counter, uint8_t flags);
ROAR_B3_HIDDEN void roar_b3_compress_avx512vl(uint32_t cv[8], const uint8_t block[64], uint8_t block_len,
                                              uint64_t counter, uint8_t flags);
/* 4- and 8-wide variants using AVX-512VL rotates, for the tails when AVX-512 is in use. */
ROAR_B3_HIDDEN void roar_b3_many4_avx512vl(const uint8_t *input, size_t stride, size_t count, size_t blocks,
                                           const uint32_t key[8], uint64_t counter, int increment_counter,
                                           uint8_t flags, uint8_t flags_start, uint8_t flags_end, uint8_t *out);
ROAR_B3_HIDDEN void roar_b3_many8_avx512vl(const uint8_t *input, size_t stride, size_t count, size_t blocks,
                                           const uint32_t key[8], uint64_t counter, int increment_counter,
                                           uint8_t flags, uint8_t flags_start, uint8_t flags_end, uint8_t *out);
#endif

#endif
