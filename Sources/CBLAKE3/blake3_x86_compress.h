/*
 * One-block compression with the state in four 128-bit rows (the columns step works on all four columns at once;
 * the diagonal step rotates rows 1-3 so diagonals line up as columns). Used for the blocks that cannot be batched:
 * a chunk being streamed, the last partial chunk, parents merged one at a time. Needs the 128-bit helpers of
 * blake3_x86_128.h (KATTR, KFN) and KCOMPRESS, the function name.
 */

#define KG4(x, y)                                           \
    do {                                                    \
        r0 = KFN(add)(KFN(add)(r0, r1), x);                 \
        r3 = KFN(rot16)(KFN(xor)(r3, r0));                  \
        r2 = KFN(add)(r2, r3);                              \
        r1 = KFN(rot12)(KFN(xor)(r1, r2));                  \
        r0 = KFN(add)(KFN(add)(r0, r1), y);                 \
        r3 = KFN(rot8)(KFN(xor)(r3, r0));                   \
        r2 = KFN(add)(r2, r3);                              \
        r1 = KFN(rot7)(KFN(xor)(r1, r2));                   \
    } while (0)

#define KWORDS(r, a, b, c, d)                                                                                      \
    _mm_set_epi32((int)m[roar_b3_schedule[r][d]], (int)m[roar_b3_schedule[r][c]], (int)m[roar_b3_schedule[r][b]], \
                  (int)m[roar_b3_schedule[r][a]])

#define KROUND1(r)                                                   \
    do {                                                             \
        KG4(KWORDS(r, 0, 2, 4, 6), KWORDS(r, 1, 3, 5, 7));           \
        r1 = _mm_shuffle_epi32(r1, _MM_SHUFFLE(0, 3, 2, 1));         \
        r2 = _mm_shuffle_epi32(r2, _MM_SHUFFLE(1, 0, 3, 2));         \
        r3 = _mm_shuffle_epi32(r3, _MM_SHUFFLE(2, 1, 0, 3));         \
        KG4(KWORDS(r, 8, 10, 12, 14), KWORDS(r, 9, 11, 13, 15));     \
        r1 = _mm_shuffle_epi32(r1, _MM_SHUFFLE(2, 1, 0, 3));         \
        r2 = _mm_shuffle_epi32(r2, _MM_SHUFFLE(1, 0, 3, 2));         \
        r3 = _mm_shuffle_epi32(r3, _MM_SHUFFLE(0, 3, 2, 1));         \
    } while (0)

KATTR void KCOMPRESS(uint32_t cv[8], const uint8_t block[64], uint8_t block_len, uint64_t counter, uint8_t flags) {
    uint32_t m[16];
    memcpy(m, block, sizeof m); /* x86 is little-endian: bytes are the words */
    __m128i r0 = _mm_loadu_si128((const __m128i *)(const void *)cv);
    __m128i r1 = _mm_loadu_si128((const __m128i *)(const void *)(cv + 4));
    __m128i r2 = _mm_loadu_si128((const __m128i *)(const void *)roar_b3_iv);
    __m128i r3 = _mm_set_epi32((int)flags, (int)block_len, (int)(uint32_t)(counter >> 32), (int)(uint32_t)counter);
    KROUND1(0);
    KROUND1(1);
    KROUND1(2);
    KROUND1(3);
    KROUND1(4);
    KROUND1(5);
    KROUND1(6);
    _mm_storeu_si128((__m128i *)(void *)cv, KFN(xor)(r0, r2));
    _mm_storeu_si128((__m128i *)(void *)(cv + 4), KFN(xor)(r1, r3));
}

#undef KG4
#undef KWORDS
#undef KROUND1
