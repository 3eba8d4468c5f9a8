/* Portable BLAKE3 compression: one block at a time, plain C. */
#include "blake3_internal.h"

static inline uint32_t rotr32(uint32_t w, unsigned c) {
    return (w >> c) | (w << (32 - c));
}

#define ROAR_B3_G(a, b, c, d, x, y)       \
    do {                                  \
        v[a] = v[a] + v[b] + (x);         \
        v[d] = rotr32(v[d] ^ v[a], 16);   \
        v[c] = v[c] + v[d];               \
        v[b] = rotr32(v[b] ^ v[c], 12);   \
        v[a] = v[a] + v[b] + (y);         \
        v[d] = rotr32(v[d] ^ v[a], 8);    \
        v[c] = v[c] + v[d];               \
        v[b] = rotr32(v[b] ^ v[c], 7);    \
    } while (0)

void roar_b3_compress_portable(uint32_t cv[8], const uint8_t block[64], uint8_t block_len, uint64_t counter,
                               uint8_t flags) {
    uint32_t m[16];
    for (int i = 0; i < 16; i++) {
        m[i] = roar_b3_load32(block + 4 * i);
    }
    uint32_t v[16] = {
        cv[0], cv[1], cv[2], cv[3], cv[4], cv[5], cv[6], cv[7],
        roar_b3_iv[0], roar_b3_iv[1], roar_b3_iv[2], roar_b3_iv[3],
        (uint32_t)counter, (uint32_t)(counter >> 32), (uint32_t)block_len, (uint32_t)flags,
    };
#define ROAR_B3_ROUND(r)                                                                   \
    do {                                                                                   \
        ROAR_B3_G(0, 4, 8, 12, m[roar_b3_schedule[r][0]], m[roar_b3_schedule[r][1]]);    \
        ROAR_B3_G(1, 5, 9, 13, m[roar_b3_schedule[r][2]], m[roar_b3_schedule[r][3]]);    \
        ROAR_B3_G(2, 6, 10, 14, m[roar_b3_schedule[r][4]], m[roar_b3_schedule[r][5]]);   \
        ROAR_B3_G(3, 7, 11, 15, m[roar_b3_schedule[r][6]], m[roar_b3_schedule[r][7]]);   \
        ROAR_B3_G(0, 5, 10, 15, m[roar_b3_schedule[r][8]], m[roar_b3_schedule[r][9]]);   \
        ROAR_B3_G(1, 6, 11, 12, m[roar_b3_schedule[r][10]], m[roar_b3_schedule[r][11]]); \
        ROAR_B3_G(2, 7, 8, 13, m[roar_b3_schedule[r][12]], m[roar_b3_schedule[r][13]]);  \
        ROAR_B3_G(3, 4, 9, 14, m[roar_b3_schedule[r][14]], m[roar_b3_schedule[r][15]]);  \
    } while (0)
    ROAR_B3_ROUND(0);
    ROAR_B3_ROUND(1);
    ROAR_B3_ROUND(2);
    ROAR_B3_ROUND(3);
    ROAR_B3_ROUND(4);
    ROAR_B3_ROUND(5);
    ROAR_B3_ROUND(6);
#undef ROAR_B3_ROUND
    for (int i = 0; i < 8; i++) {
        cv[i] = v[i] ^ v[i + 8];
    }
}

void roar_b3_many_portable(const uint8_t *input, size_t stride, size_t count, size_t blocks, const uint32_t key[8],
                           uint64_t counter, int increment_counter, uint8_t flags, uint8_t flags_start,
                           uint8_t flags_end, uint8_t *out) {
    for (size_t i = 0; i < count; i++) {
        uint32_t cv[8];
        memcpy(cv, key, sizeof cv);
        const uint8_t *in = input + i * stride;
        uint64_t ctr = counter + (increment_counter ? i : 0);
        for (size_t b = 0; b < blocks; b++) {
            uint8_t f = flags;
            if (b == 0) {
                f |= flags_start;
            }
            if (b + 1 == blocks) {
                f |= flags_end;
            }
            roar_b3_compress_portable(cv, in + 64 * b, 64, ctr, f);
        }
        for (int w = 0; w < 8; w++) {
            roar_b3_store32(out + 32 * i + 4 * w, cv[w]);
        }
    }
}
