/*
 * 4-lane helpers (128-bit vectors) for blake3_simd_template.h. Define KATTR, KFN and KUSE_VL (1: AVX-512VL
 * rotate instructions, 0: SSSE3 byte shuffles and shifts) first.
 */
#include <immintrin.h>

static KATTR inline __m128i KFN(add)(__m128i a, __m128i b) {
    return _mm_add_epi32(a, b);
}

static KATTR inline __m128i KFN(xor)(__m128i a, __m128i b) {
    return _mm_xor_si128(a, b);
}

static KATTR inline __m128i KFN(set1)(uint32_t x) {
    return _mm_set1_epi32((int)x);
}

static KATTR inline __m128i KFN(loadu)(const uint32_t *p) {
    return _mm_loadu_si128((const __m128i *)(const void *)p);
}

#if KUSE_VL
static KATTR inline __m128i KFN(rot16)(__m128i x) {
    return _mm_ror_epi32(x, 16);
}
static KATTR inline __m128i KFN(rot12)(__m128i x) {
    return _mm_ror_epi32(x, 12);
}
static KATTR inline __m128i KFN(rot8)(__m128i x) {
    return _mm_ror_epi32(x, 8);
}
static KATTR inline __m128i KFN(rot7)(__m128i x) {
    return _mm_ror_epi32(x, 7);
}
#else
static KATTR inline __m128i KFN(rot16)(__m128i x) {
    return _mm_shuffle_epi8(x, _mm_set_epi8(13, 12, 15, 14, 9, 8, 11, 10, 5, 4, 7, 6, 1, 0, 3, 2));
}
static KATTR inline __m128i KFN(rot12)(__m128i x) {
    return _mm_or_si128(_mm_srli_epi32(x, 12), _mm_slli_epi32(x, 20));
}
static KATTR inline __m128i KFN(rot8)(__m128i x) {
    return _mm_shuffle_epi8(x, _mm_set_epi8(12, 15, 14, 13, 8, 11, 10, 9, 4, 7, 6, 5, 0, 3, 2, 1));
}
static KATTR inline __m128i KFN(rot7)(__m128i x) {
    return _mm_or_si128(_mm_srli_epi32(x, 7), _mm_slli_epi32(x, 25));
}
#endif

/* Rows r[0..3] (4 words each) -> columns c[0..3]. */
static KATTR inline void KFN(transpose)(const __m128i r[4], __m128i c[4]) {
    __m128i t0 = _mm_unpacklo_epi32(r[0], r[1]);
    __m128i t1 = _mm_unpackhi_epi32(r[0], r[1]);
    __m128i t2 = _mm_unpacklo_epi32(r[2], r[3]);
    __m128i t3 = _mm_unpackhi_epi32(r[2], r[3]);
    c[0] = _mm_unpacklo_epi64(t0, t2);
    c[1] = _mm_unpackhi_epi64(t0, t2);
    c[2] = _mm_unpacklo_epi64(t1, t3);
    c[3] = _mm_unpackhi_epi64(t1, t3);
}

static KATTR inline void KFN(load_message)(const uint8_t *const lanes[4], size_t offset, __m128i m[16]) {
    for (int q = 0; q < 4; q++) {
        __m128i r[4];
        for (int i = 0; i < 4; i++) {
            r[i] = _mm_loadu_si128((const __m128i *)(const void *)(lanes[i] + offset + 16 * q));
        }
        KFN(transpose)(r, m + 4 * q);
    }
}

static KATTR inline void KFN(store_cvs)(const __m128i h[8], uint8_t out[4 * 32]) {
    __m128i lo[4], hi[4];
    KFN(transpose)(h, lo);
    KFN(transpose)(h + 4, hi);
    for (int i = 0; i < 4; i++) {
        _mm_storeu_si128((__m128i *)(void *)(out + 32 * i), lo[i]);
        _mm_storeu_si128((__m128i *)(void *)(out + 32 * i + 16), hi[i]);
    }
}
