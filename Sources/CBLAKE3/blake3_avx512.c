/*
 * BLAKE3 kernels for AVX-512 (F + VL): 16 inputs at once in 512-bit vectors, and 8- and 4-input variants that
 * use the AVX-512VL rotate instruction for the tails of a batch.
 */
#include "blake3_internal.h"

#if defined(ROAR_B3_X86)
#include <immintrin.h>

#define KATTR __attribute__((target("avx512f,avx512vl")))
#ifndef ROAR_B3_PREFETCH
#define ROAR_B3_PREFETCH 128
#endif
#define KUSE_VL 1

/* ---- 16 lanes ---- */
#define KFN(name) x16_##name

static KATTR inline __m512i KFN(add)(__m512i a, __m512i b) {
    return _mm512_add_epi32(a, b);
}

static KATTR inline __m512i KFN(xor)(__m512i a, __m512i b) {
    return _mm512_xor_si512(a, b);
}

static KATTR inline __m512i KFN(set1)(uint32_t x) {
    return _mm512_set1_epi32((int)x);
}

static KATTR inline __m512i KFN(loadu)(const uint32_t *p) {
    return _mm512_loadu_si512((const void *)p);
}

static KATTR inline __m512i KFN(rot16)(__m512i x) {
    return _mm512_ror_epi32(x, 16);
}

static KATTR inline __m512i KFN(rot12)(__m512i x) {
    return _mm512_ror_epi32(x, 12);
}

static KATTR inline __m512i KFN(rot8)(__m512i x) {
    return _mm512_ror_epi32(x, 8);
}

static KATTR inline __m512i KFN(rot7)(__m512i x) {
    return _mm512_ror_epi32(x, 7);
}

/* Four rows -> u[j]: 128-bit lane L holds column 4L + j of those rows. */
static KATTR inline void KFN(transpose4)(__m512i r0, __m512i r1, __m512i r2, __m512i r3, __m512i u[4]) {
    __m512i t0 = _mm512_unpacklo_epi32(r0, r1);
    __m512i t1 = _mm512_unpackhi_epi32(r0, r1);
    __m512i t2 = _mm512_unpacklo_epi32(r2, r3);
    __m512i t3 = _mm512_unpackhi_epi32(r2, r3);
    u[0] = _mm512_unpacklo_epi64(t0, t2);
    u[1] = _mm512_unpackhi_epi64(t0, t2);
    u[2] = _mm512_unpacklo_epi64(t1, t3);
    u[3] = _mm512_unpackhi_epi64(t1, t3);
}

static KATTR inline void KFN(load_message)(const uint8_t *const lanes[16], size_t offset, __m512i m[16]) {
    __m512i r[16];
    for (int i = 0; i < 16; i++) {
        r[i] = _mm512_loadu_si512((const void *)(lanes[i] + offset));
        /* Sixteen interleaved streams are more than the hardware prefetcher follows well: ask a few blocks ahead
         * (prefetches past the end of an input are harmless hints). */
#if ROAR_B3_PREFETCH
        _mm_prefetch((const char *)(lanes[i] + offset + ROAR_B3_PREFETCH), _MM_HINT_T0);
#endif
    }
    __m512i u[4][4];
    for (int g = 0; g < 4; g++) {
        KFN(transpose4)(r[4 * g], r[4 * g + 1], r[4 * g + 2], r[4 * g + 3], u[g]);
    }
    /* Column 4L + j = lane L of u[0][j], u[1][j], u[2][j], u[3][j]: a 4x4 transpose of 128-bit lanes. */
    for (int j = 0; j < 4; j++) {
        __m512i p0 = _mm512_shuffle_i32x4(u[0][j], u[1][j], 0x44); /* u0.L0 u0.L1 u1.L0 u1.L1 */
        __m512i p1 = _mm512_shuffle_i32x4(u[0][j], u[1][j], 0xEE); /* u0.L2 u0.L3 u1.L2 u1.L3 */
        __m512i q0 = _mm512_shuffle_i32x4(u[2][j], u[3][j], 0x44);
        __m512i q1 = _mm512_shuffle_i32x4(u[2][j], u[3][j], 0xEE);
        m[j] = _mm512_shuffle_i32x4(p0, q0, 0x88);      /* L0 of u0, u1, u2, u3 */
        m[4 + j] = _mm512_shuffle_i32x4(p0, q0, 0xDD);  /* L1 */
        m[8 + j] = _mm512_shuffle_i32x4(p1, q1, 0x88);  /* L2 */
        m[12 + j] = _mm512_shuffle_i32x4(p1, q1, 0xDD); /* L3 */
    }
}

static KATTR inline void KFN(store_cvs)(const __m512i h[8], uint8_t out[16 * 32]) {
    __m512i u[4], w[4];
    KFN(transpose4)(h[0], h[1], h[2], h[3], u);
    KFN(transpose4)(h[4], h[5], h[6], h[7], w);
    for (int j = 0; j < 4; j++) {
        /* Input 4L + j = lane L of u[j] (words 0-3) then lane L of w[j] (words 4-7). */
        __m512i a = _mm512_shuffle_i32x4(u[j], w[j], 0x44); /* u.L0 u.L1 w.L0 w.L1 */
        __m512i b = _mm512_shuffle_i32x4(u[j], w[j], 0xEE); /* u.L2 u.L3 w.L2 w.L3 */
        a = _mm512_shuffle_i32x4(a, a, 0xD8);                /* u.L0 w.L0 u.L1 w.L1 */
        b = _mm512_shuffle_i32x4(b, b, 0xD8);
        _mm256_storeu_si256((__m256i *)(void *)(out + 32 * j), _mm512_castsi512_si256(a));
        _mm256_storeu_si256((__m256i *)(void *)(out + 32 * (4 + j)), _mm512_extracti64x4_epi64(a, 1));
        _mm256_storeu_si256((__m256i *)(void *)(out + 32 * (8 + j)), _mm512_castsi512_si256(b));
        _mm256_storeu_si256((__m256i *)(void *)(out + 32 * (12 + j)), _mm512_extracti64x4_epi64(b, 1));
    }
}

#define KV __m512i
#define KW 16
#define KNAME roar_b3_many16_avx512
#define KNAME_LANES roar_b3_lanes16_avx512
#include "blake3_simd_template.h"
#undef KV
#undef KW
#undef KNAME
#undef KNAME_LANES
#undef KFN

/* ---- 8 lanes ---- */
#define KFN(name) x8vl_##name
#include "blake3_x86_256.h"
#define KV __m256i
#define KW 8
#define KNAME roar_b3_many8_avx512vl
#define KNAME_LANES roar_b3_lanes8_avx512vl
#include "blake3_simd_template.h"
#undef KV
#undef KW
#undef KNAME
#undef KNAME_LANES
#undef KFN

/* ---- 4 lanes ---- */
#define KFN(name) x4vl_##name
#include "blake3_x86_128.h"
#define KV __m128i
#define KW 4
#define KNAME roar_b3_many4_avx512vl
#define KNAME_LANES roar_b3_lanes4_avx512vl
#include "blake3_simd_template.h"

#define KCOMPRESS roar_b3_compress_avx512vl
#include "blake3_x86_compress.h"
#endif
