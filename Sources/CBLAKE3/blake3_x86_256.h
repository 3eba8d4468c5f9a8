/*
 * 8-lane helpers (256-bit vectors) for blake3_simd_template.h. Define KATTR, KFN and KUSE_VL (1: AVX-512VL
 * rotate instructions, 0: AVX2 byte shuffles and shifts) first.
 */
#include <immintrin.h>

static KATTR inline __m256i KFN(add)(__m256i a, __m256i b) {
    return _mm256_add_epi32(a, b);
}

static KATTR inline __m256i KFN(xor)(__m256i a, __m256i b) {
    return _mm256_xor_si256(a, b);
}

static KATTR inline __m256i KFN(set1)(uint32_t x) {
    return _mm256_set1_epi32((int)x);
}

static KATTR inline __m256i KFN(loadu)(const uint32_t *p) {
    return _mm256_loadu_si256((const __m256i *)(const void *)p);
}

#if KUSE_VL
static KATTR inline __m256i KFN(rot16)(__m256i x) {
    return _mm256_ror_epi32(x, 16);
}
static KATTR inline __m256i KFN(rot12)(__m256i x) {
    return _mm256_ror_epi32(x, 12);
}
static KATTR inline __m256i KFN(rot8)(__m256i x) {
    return _mm256_ror_epi32(x, 8);
}
static KATTR inline __m256i KFN(rot7)(__m256i x) {
    return _mm256_ror_epi32(x, 7);
}
#else
static KATTR inline __m256i KFN(rot16)(__m256i x) {
    return _mm256_shuffle_epi8(x, _mm256_set_epi8(13, 12, 15, 14, 9, 8, 11, 10, 5, 4, 7, 6, 1, 0, 3, 2, 13, 12, 15,
                                                  14, 9, 8, 11, 10, 5, 4, 7, 6, 1, 0, 3, 2));
}
static KATTR inline __m256i KFN(rot12)(__m256i x) {
    return _mm256_or_si256(_mm256_srli_epi32(x, 12), _mm256_slli_epi32(x, 20));
}
static KATTR inline __m256i KFN(rot8)(__m256i x) {
    return _mm256_shuffle_epi8(x, _mm256_set_epi8(12, 15, 14, 13, 8, 11, 10, 9, 4, 7, 6, 5, 0, 3, 2, 1, 12, 15, 14,
                                                  13, 8, 11, 10, 9, 4, 7, 6, 5, 0, 3, 2, 1));
}
static KATTR inline __m256i KFN(rot7)(__m256i x) {
    return _mm256_or_si256(_mm256_srli_epi32(x, 7), _mm256_slli_epi32(x, 25));
}
#endif

/* Rows r[0..7] (8 words each) -> columns c[0..7]. */
static KATTR inline void KFN(transpose)(const __m256i r[8], __m256i c[8]) {
    __m256i u[4], w[4];
    for (int g = 0; g < 2; g++) {
        const __m256i *rr = r + 4 * g;
        __m256i *out = g == 0 ? u : w;
        __m256i t0 = _mm256_unpacklo_epi32(rr[0], rr[1]);
        __m256i t1 = _mm256_unpackhi_epi32(rr[0], rr[1]);
        __m256i t2 = _mm256_unpacklo_epi32(rr[2], rr[3]);
        __m256i t3 = _mm256_unpackhi_epi32(rr[2], rr[3]);
        out[0] = _mm256_unpacklo_epi64(t0, t2); /* 128-bit lane L: column 4L + 0 of these four rows */
        out[1] = _mm256_unpackhi_epi64(t0, t2);
        out[2] = _mm256_unpacklo_epi64(t1, t3);
        out[3] = _mm256_unpackhi_epi64(t1, t3);
    }
    for (int j = 0; j < 4; j++) {
        c[j] = _mm256_permute2x128_si256(u[j], w[j], 0x20);
        c[4 + j] = _mm256_permute2x128_si256(u[j], w[j], 0x31);
    }
}

static KATTR inline void KFN(load_message)(const uint8_t *const lanes[8], size_t offset, __m256i m[16]) {
    for (int q = 0; q < 2; q++) {
        __m256i r[8];
        for (int i = 0; i < 8; i++) {
            r[i] = _mm256_loadu_si256((const __m256i *)(const void *)(lanes[i] + offset + 32 * q));
        }
        KFN(transpose)(r, m + 8 * q);
    }
}

static KATTR inline void KFN(store_cvs)(const __m256i h[8], uint8_t out[8 * 32]) {
    __m256i rows[8];
    KFN(transpose)(h, rows);
    for (int i = 0; i < 8; i++) {
        _mm256_storeu_si256((__m256i *)(void *)(out + 32 * i), rows[i]);
    }
}
