/*
 * The many-input kernel, written once for every vector width. A kernel source defines, before including this:
 *
 *   KV              vector type of KW 32-bit lanes (lane i = input i)
 *   KW              lanes: 4, 8 or 16
 *   KATTR           __attribute__((target(...))) for every function here
 *   KNAME           name of the kernel function (signature of roar_b3_many_fn)
 *   KNAME_LANES     name of the variant with one pointer and counter per input (signature of roar_b3_lanes_fn)
 *   KFN(name)       the helper named `name` of this instance
 *   static KATTR functions: kv_add, kv_xor, kv_set1, kv_loadu, kv_rot16, kv_rot12, kv_rot8, kv_rot7,
 *   kv_load_message(const uint8_t *const lanes[KW], size_t offset, KV m[16])  (word w of each lane's block -> m[w])
 *   kv_store_cvs(const KV h[8], uint8_t out[KW * 32])                            (lane i's 8 words -> out + 32 i)
 *
 * Lanes beyond `count` repeat the last input; their results are not stored.
 * The helpers are named through KFN(name) so one source can instantiate several widths.
 */

#define kv_add KFN(add)
#define kv_xor KFN(xor)
#define kv_set1 KFN(set1)
#define kv_loadu KFN(loadu)
#define kv_rot16 KFN(rot16)
#define kv_rot12 KFN(rot12)
#define kv_rot8 KFN(rot8)
#define kv_rot7 KFN(rot7)
#define kv_load_message KFN(load_message)
#define kv_store_cvs KFN(store_cvs)

/*
 * One round. For clang it is written step by step across the four G functions of each half (columns, then
 * diagonals), so four independent operations sit next to each other in program order; GCC schedules the plain
 * one-G-after-another form better. Measured with bench/hash/run (in-memory kernel speed).
 */
#define KM(r, i) m[roar_b3_schedule[r][i]]
#if defined(__clang__)
#define KHALF(r, o, a0, b0, c0, d0, a1, b1, c1, d1, a2, b2, c2, d2, a3, b3, c3, d3) \
    do {                                                                           \
        v[a0] = kv_add(kv_add(v[a0], v[b0]), KM(r, o + 0));                        \
        v[a1] = kv_add(kv_add(v[a1], v[b1]), KM(r, o + 2));                        \
        v[a2] = kv_add(kv_add(v[a2], v[b2]), KM(r, o + 4));                        \
        v[a3] = kv_add(kv_add(v[a3], v[b3]), KM(r, o + 6));                        \
        v[d0] = kv_rot16(kv_xor(v[d0], v[a0]));                                    \
        v[d1] = kv_rot16(kv_xor(v[d1], v[a1]));                                    \
        v[d2] = kv_rot16(kv_xor(v[d2], v[a2]));                                    \
        v[d3] = kv_rot16(kv_xor(v[d3], v[a3]));                                    \
        v[c0] = kv_add(v[c0], v[d0]);                                              \
        v[c1] = kv_add(v[c1], v[d1]);                                              \
        v[c2] = kv_add(v[c2], v[d2]);                                              \
        v[c3] = kv_add(v[c3], v[d3]);                                              \
        v[b0] = kv_rot12(kv_xor(v[b0], v[c0]));                                    \
        v[b1] = kv_rot12(kv_xor(v[b1], v[c1]));                                    \
        v[b2] = kv_rot12(kv_xor(v[b2], v[c2]));                                    \
        v[b3] = kv_rot12(kv_xor(v[b3], v[c3]));                                    \
        v[a0] = kv_add(kv_add(v[a0], v[b0]), KM(r, o + 1));                        \
        v[a1] = kv_add(kv_add(v[a1], v[b1]), KM(r, o + 3));                        \
        v[a2] = kv_add(kv_add(v[a2], v[b2]), KM(r, o + 5));                        \
        v[a3] = kv_add(kv_add(v[a3], v[b3]), KM(r, o + 7));                        \
        v[d0] = kv_rot8(kv_xor(v[d0], v[a0]));                                     \
        v[d1] = kv_rot8(kv_xor(v[d1], v[a1]));                                     \
        v[d2] = kv_rot8(kv_xor(v[d2], v[a2]));                                     \
        v[d3] = kv_rot8(kv_xor(v[d3], v[a3]));                                     \
        v[c0] = kv_add(v[c0], v[d0]);                                              \
        v[c1] = kv_add(v[c1], v[d1]);                                              \
        v[c2] = kv_add(v[c2], v[d2]);                                              \
        v[c3] = kv_add(v[c3], v[d3]);                                              \
        v[b0] = kv_rot7(kv_xor(v[b0], v[c0]));                                     \
        v[b1] = kv_rot7(kv_xor(v[b1], v[c1]));                                     \
        v[b2] = kv_rot7(kv_xor(v[b2], v[c2]));                                     \
        v[b3] = kv_rot7(kv_xor(v[b3], v[c3]));                                     \
    } while (0)

#define KROUND(r)                                                                   \
    do {                                                                            \
        KHALF(r, 0, 0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);          \
        KHALF(r, 8, 0, 5, 10, 15, 1, 6, 11, 12, 2, 7, 8, 13, 3, 4, 9, 14);          \
    } while (0)
#else
#define KG(a, b, c, d, x, y)                  \
    do {                                      \
        v[a] = kv_add(kv_add(v[a], v[b]), x); \
        v[d] = kv_rot16(kv_xor(v[d], v[a]));  \
        v[c] = kv_add(v[c], v[d]);            \
        v[b] = kv_rot12(kv_xor(v[b], v[c]));  \
        v[a] = kv_add(kv_add(v[a], v[b]), y); \
        v[d] = kv_rot8(kv_xor(v[d], v[a]));   \
        v[c] = kv_add(v[c], v[d]);            \
        v[b] = kv_rot7(kv_xor(v[b], v[c]));   \
    } while (0)

#define KROUND(r)                                           \
    do {                                                    \
        KG(0, 4, 8, 12, KM(r, 0), KM(r, 1));                \
        KG(1, 5, 9, 13, KM(r, 2), KM(r, 3));                \
        KG(2, 6, 10, 14, KM(r, 4), KM(r, 5));               \
        KG(3, 7, 11, 15, KM(r, 6), KM(r, 7));               \
        KG(0, 5, 10, 15, KM(r, 8), KM(r, 9));               \
        KG(1, 6, 11, 12, KM(r, 10), KM(r, 11));             \
        KG(2, 7, 8, 13, KM(r, 12), KM(r, 13));              \
        KG(3, 4, 9, 14, KM(r, 14), KM(r, 15));              \
    } while (0)
#endif

static KATTR inline void KFN(many_lanes)(const uint8_t *const lanes[KW], const uint32_t counter_lo[KW],
                                        const uint32_t counter_hi[KW], size_t count, size_t blocks,
                                        const uint32_t key[8], uint8_t flags, uint8_t flags_start, uint8_t flags_end,
                                        uint8_t *out, const uint8_t *ahead) {
    KV h[8];
    for (int j = 0; j < 8; j++) {
        h[j] = kv_set1(key[j]);
    }
    const KV ctr_lo = kv_loadu(counter_lo);
    const KV ctr_hi = kv_loadu(counter_hi);
    const KV block_len = kv_set1(64);
    for (size_t b = 0; b < blocks; b++) {
        KV m[16];
        kv_load_message(lanes, b * 64, m);
#if !defined(ROAR_B3_AHEAD) || ROAR_B3_AHEAD
        if (ahead != NULL) {
            /* The next call's inputs, a slice per block, so they arrive while this call computes. */
            for (size_t line = 0; line < KW; line++) {
                _mm_prefetch((const char *)(ahead + (b * KW + line) * 64), _MM_HINT_T0);
            }
        }
#else
        (void)ahead;
#endif
        uint32_t f = flags;
        if (b == 0) {
            f |= flags_start;
        }
        if (b + 1 == blocks) {
            f |= flags_end;
        }
        KV v[16] = {
            h[0], h[1], h[2], h[3], h[4], h[5], h[6], h[7],
            kv_set1(roar_b3_iv[0]), kv_set1(roar_b3_iv[1]), kv_set1(roar_b3_iv[2]), kv_set1(roar_b3_iv[3]),
            ctr_lo, ctr_hi, block_len, kv_set1(f),
        };
        KROUND(0);
        KROUND(1);
        KROUND(2);
        KROUND(3);
        KROUND(4);
        KROUND(5);
        KROUND(6);
        for (int j = 0; j < 8; j++) {
            h[j] = kv_xor(v[j], v[j + 8]);
        }
    }
    if (count >= KW) {
        kv_store_cvs(h, out);
    } else {
        uint8_t tmp[KW * 32];
        kv_store_cvs(h, tmp);
        memcpy(out, tmp, count * 32);
    }
}

/* Inputs at a fixed stride (the roar_b3_many_fn shape). */
KATTR void KNAME(const uint8_t *input, size_t stride, size_t count, size_t blocks, const uint32_t key[8],
                 uint64_t counter, int increment_counter, uint8_t flags, uint8_t flags_start, uint8_t flags_end,
                 uint8_t *out) {
    const uint8_t *lanes[KW];
    uint32_t counter_lo[KW], counter_hi[KW];
    for (size_t i = 0; i < KW; i++) {
        size_t lane = i < count ? i : count - 1;
        lanes[i] = input + lane * stride;
        uint64_t c = counter + (increment_counter ? lane : 0);
        counter_lo[i] = (uint32_t)c;
        counter_hi[i] = (uint32_t)(c >> 32);
    }
    const uint8_t *ahead = stride == 64 * blocks && count == KW ? input + KW * stride : NULL;
    KFN(many_lanes)(lanes, counter_lo, counter_hi, count, blocks, key, flags, flags_start, flags_end, out, ahead);
}

/* Inputs anywhere, each with its own counter (the roar_b3_lanes_fn shape). */
KATTR void KNAME_LANES(const uint8_t *const *inputs, const uint64_t *counters, size_t count, size_t blocks,
                       const uint32_t key[8], uint8_t flags, uint8_t flags_start, uint8_t flags_end, uint8_t *out) {
    const uint8_t *lanes[KW];
    uint32_t counter_lo[KW], counter_hi[KW];
    for (size_t i = 0; i < KW; i++) {
        size_t lane = i < count ? i : count - 1;
        lanes[i] = inputs[lane];
        counter_lo[i] = (uint32_t)counters[lane];
        counter_hi[i] = (uint32_t)(counters[lane] >> 32);
    }
    KFN(many_lanes)(lanes, counter_lo, counter_hi, count, blocks, key, flags, flags_start, flags_end, out, NULL);
}

#undef KM
#undef KHALF
#undef KG
#undef KROUND
#undef kv_add
#undef kv_xor
#undef kv_set1
#undef kv_loadu
#undef kv_rot16
#undef kv_rot12
#undef kv_rot8
#undef kv_rot7
#undef kv_load_message
#undef kv_store_cvs
