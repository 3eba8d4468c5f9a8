/*
 * BLAKE3 (hash mode, 32-byte output) for roar, written from the BLAKE3 specification.
 *
 * Layout of the work:
 * - kernels (blake3_portable.c, blake3_sse41.c, blake3_avx2.c, blake3_avx512.c) hash many equal-sized
 *   inputs at once: 16 chunks per call with AVX-512, 8 with AVX2, 4 with SSE4.1;
 * - subtrees of up to SMALL_TREE_CHUNKS chunks are hashed level by level: all chunk chaining values,
 *   then all parents of each level through the same many-input kernel;
 * - larger inputs are split along the BLAKE3 tree (the left subtree holds the largest power of two
 *   chunks that leaves the right side non-empty), which keeps the stack use bounded and lets
 *   roar_blake3_hash_fd hand whole subtrees to threads;
 * - the streaming hasher keeps one chunk and a stack of subtree chaining values (one per set bit of
 *   the chunk count); large updates go straight from the caller's buffer into whole subtrees.
 */
#include "roar_blake3.h"

#include "blake3_internal.h"

#include <stdatomic.h>

#if defined(ROAR_B3_X86)
#include <cpuid.h>
#endif

#define CHUNK_LEN ROAR_BLAKE3_CHUNK_LEN
#define BLOCK_LEN ROAR_BLAKE3_BLOCK_LEN
#define OUT_LEN ROAR_BLAKE3_OUT_LEN

/* Subtrees up to this many chunks are hashed level by level with a chaining-value buffer on the stack. */
#define SMALL_TREE_CHUNKS 128

/* ---------------------------------------------------------------------------------------------------------------
 * Kernel selection
 */

enum { KERNEL_PORTABLE = 0, KERNEL_SSE41 = 1, KERNEL_AVX2 = 2, KERNEL_AVX512 = 3, KERNEL_COUNT = 4 };

static const char *const kernel_names[KERNEL_COUNT] = {"portable", "sse41", "avx2", "avx512"};

/* -1 until detected; afterwards the kernel in use. Detection is idempotent, so racing threads agree. */
static _Atomic int selected_kernel = -1;
static _Atomic int best_kernel = -1;

static int detect_best_kernel(void) {
#if defined(ROAR_B3_X86)
    unsigned int eax, ebx, ecx, edx;
    if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx)) {
        return KERNEL_PORTABLE;
    }
    int has_sse41 = (ecx >> 19) & 1;
    int has_osxsave = (ecx >> 27) & 1;
    int has_avx2 = 0;
    int has_avx512 = 0;
    if (has_osxsave) {
        unsigned int xcr0_lo, xcr0_hi;
        __asm__ volatile("xgetbv" : "=a"(xcr0_lo), "=d"(xcr0_hi) : "c"(0));
        (void)xcr0_hi;
        int os_ymm = (xcr0_lo & 0x6u) == 0x6u;   /* XMM and YMM state */
        int os_zmm = (xcr0_lo & 0xE6u) == 0xE6u; /* plus opmask, ZMM_Hi256, Hi16_ZMM */
        if (__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx)) {
            has_avx2 = os_ymm && ((ebx >> 5) & 1);
            has_avx512 = os_zmm && ((ebx >> 16) & 1) && ((ebx >> 31) & 1); /* AVX512F and AVX512VL */
        }
    }
    if (has_avx512) {
        return KERNEL_AVX512;
    }
    if (has_avx2) {
        return KERNEL_AVX2;
    }
    if (has_sse41) {
        return KERNEL_SSE41;
    }
#endif
    return KERNEL_PORTABLE;
}

static int best_available_kernel(void) {
    int best = atomic_load_explicit(&best_kernel, memory_order_relaxed);
    if (best < 0) {
        best = detect_best_kernel();
        atomic_store_explicit(&best_kernel, best, memory_order_relaxed);
    }
    return best;
}

static inline int current_kernel(void) {
    int k = atomic_load_explicit(&selected_kernel, memory_order_relaxed);
    if (__builtin_expect(k < 0, 0)) {
        k = best_available_kernel();
        int expected = -1;
        atomic_compare_exchange_strong_explicit(&selected_kernel, &expected, k, memory_order_relaxed,
                                                memory_order_relaxed);
        k = atomic_load_explicit(&selected_kernel, memory_order_relaxed);
    }
    return k;
}

const char *roar_blake3_kernel(void) {
    return kernel_names[current_kernel()];
}

int roar_blake3_force_kernel(const char *name) {
    if (name == NULL) {
        return -1;
    }
    for (int k = 0; k < KERNEL_COUNT; k++) {
        if (strcmp(name, kernel_names[k]) == 0) {
            if (k > best_available_kernel()) {
                return -1;
            }
            atomic_store_explicit(&selected_kernel, k, memory_order_relaxed);
            return 0;
        }
    }
    if (strcmp(name, "auto") == 0 || strcmp(name, "best") == 0) {
        atomic_store_explicit(&selected_kernel, best_available_kernel(), memory_order_relaxed);
        return 0;
    }
    return -1;
}

#if defined(ROAR_B3_X86)
/* How many inputs the next kernel call takes: up to 16, 8 or 4 with the widest kernel available that pays
 * off for `count` inputs (a wide kernel with spare lanes still beats narrower calls); 0 when none does. */
static size_t lanes_for(size_t count, int has16, int has8, int has4) {
    if (has16 && count > 8) {
        return count < 16 ? count : 16;
    }
    if (has8 && count > 4) {
        return count < 8 ? count : 8;
    }
    if (has4 && count > 1) {
        return count < 4 ? count : 4;
    }
    return 0;
}
#endif

/* Hash `count` equal inputs with the widest kernel that pays off, falling back to narrower ones for the tail. */
static void hash_many(const uint8_t *input, size_t stride, size_t count, size_t blocks, uint64_t counter,
                      int increment_counter, uint8_t flags, uint8_t flags_start, uint8_t flags_end, uint8_t *out) {
    int kernel = current_kernel();
#if defined(ROAR_B3_X86)
    roar_b3_many_fn wide16 = NULL, wide8 = NULL, wide4 = NULL;
    switch (kernel) {
    case KERNEL_AVX512:
        wide16 = roar_b3_many16_avx512;
        wide8 = roar_b3_many8_avx512vl;
        wide4 = roar_b3_many4_avx512vl;
        break;
    case KERNEL_AVX2:
        wide8 = roar_b3_many8_avx2;
        wide4 = roar_b3_many4_sse41;
        break;
    case KERNEL_SSE41:
        wide4 = roar_b3_many4_sse41;
        break;
    default:
        break;
    }
    /* Kernels accept fewer inputs than their width (spare lanes repeat the last input, outputs are not stored). */
    while (count > 0) {
        size_t step = lanes_for(count, wide16 != NULL, wide8 != NULL, wide4 != NULL);
        if (step == 0) {
            break;
        }
        roar_b3_many_fn fn = step > 8 ? wide16 : step > 4 ? wide8 : wide4;
        fn(input, stride, step, blocks, roar_b3_iv, counter, increment_counter, flags, flags_start, flags_end, out);
        input += step * stride;
        out += step * OUT_LEN;
        if (increment_counter) {
            counter += step;
        }
        count -= step;
    }
    if (count == 0) {
        return;
    }
#else
    (void)kernel;
#endif
    roar_b3_many_portable(input, stride, count, blocks, roar_b3_iv, counter, increment_counter, flags, flags_start,
                          flags_end, out);
}

/* Inputs anywhere, each with its own counter: the same kernels through their pointer-per-lane entry. */
void roar_b3_hash_lanes(const uint8_t *const *inputs, const uint64_t *counters, size_t count, size_t blocks,
                        uint8_t flags, uint8_t flags_start, uint8_t flags_end, uint8_t *out) {
#if defined(ROAR_B3_X86)
    roar_b3_lanes_fn wide16 = NULL, wide8 = NULL, wide4 = NULL;
    switch (current_kernel()) {
    case KERNEL_AVX512:
        wide16 = roar_b3_lanes16_avx512;
        wide8 = roar_b3_lanes8_avx512vl;
        wide4 = roar_b3_lanes4_avx512vl;
        break;
    case KERNEL_AVX2:
        wide8 = roar_b3_lanes8_avx2;
        wide4 = roar_b3_lanes4_sse41;
        break;
    case KERNEL_SSE41:
        wide4 = roar_b3_lanes4_sse41;
        break;
    default:
        break;
    }
    while (count > 0) {
        size_t step = lanes_for(count, wide16 != NULL, wide8 != NULL, wide4 != NULL);
        if (step == 0) {
            break;
        }
        roar_b3_lanes_fn fn = step > 8 ? wide16 : step > 4 ? wide8 : wide4;
        fn(inputs, counters, step, blocks, roar_b3_iv, flags, flags_start, flags_end, out);
        inputs += step;
        counters += step;
        out += step * OUT_LEN;
        count -= step;
    }
#endif
    for (size_t i = 0; i < count; i++) {
        roar_b3_many_portable(inputs[i], 0, 1, blocks, roar_b3_iv, counters[i], 0, flags, flags_start, flags_end,
                              out + i * OUT_LEN);
    }
}

/* One block, with the fastest single-block code for the kernel in use. */
static inline void compress1(uint32_t cv[8], const uint8_t block[64], uint8_t block_len, uint64_t counter,
                             uint8_t flags) {
#if defined(ROAR_B3_X86)
    switch (current_kernel()) {
    case KERNEL_AVX512:
        roar_b3_compress_avx512vl(cv, block, block_len, counter, flags);
        return;
    case KERNEL_AVX2:
    case KERNEL_SSE41:
        roar_b3_compress_sse41(cv, block, block_len, counter, flags);
        return;
    default:
        break;
    }
#endif
    roar_b3_compress_portable(cv, block, block_len, counter, flags);
}

/* ---------------------------------------------------------------------------------------------------------------
 * Chunks, parents, subtrees
 */

static void words_to_bytes(const uint32_t cv[8], uint8_t out[OUT_LEN]) {
    for (int i = 0; i < 8; i++) {
        roar_b3_store32(out + 4 * i, cv[i]);
    }
}

/* Compress the final (possibly partial, possibly empty) block of a chunk whose state is `cv`. */
static void chunk_last_block(uint32_t cv[8], const uint8_t *block, size_t block_len, uint64_t counter,
                             uint8_t flags) {
    uint8_t padded[BLOCK_LEN];
    memset(padded, 0, sizeof padded);
    if (block_len > 0) {
        memcpy(padded, block, block_len);
    }
    compress1(cv, padded, (uint8_t)block_len, counter, flags | ROAR_B3_CHUNK_END);
}

/* Chaining value (or root output) of one chunk of 0..1024 bytes held in memory. */
static void chunk_cv(const uint8_t *input, size_t len, uint64_t counter, int is_root, uint8_t out[OUT_LEN]) {
    uint32_t cv[8];
    memcpy(cv, roar_b3_iv, sizeof cv);
    uint8_t start = ROAR_B3_CHUNK_START;
    while (len > BLOCK_LEN) {
        compress1(cv, input, BLOCK_LEN, counter, start);
        start = 0;
        input += BLOCK_LEN;
        len -= BLOCK_LEN;
    }
    chunk_last_block(cv, input, len, counter, (uint8_t)(start | (is_root ? ROAR_B3_ROOT : 0)));
    words_to_bytes(cv, out);
}

static void parent_cv(const uint8_t left_right[2 * OUT_LEN], int is_root, uint8_t out[OUT_LEN]) {
    uint32_t cv[8];
    memcpy(cv, roar_b3_iv, sizeof cv);
    compress1(cv, left_right, BLOCK_LEN, 0, (uint8_t)(ROAR_B3_PARENT | (is_root ? ROAR_B3_ROOT : 0)));
    words_to_bytes(cv, out);
}

static inline size_t chunk_count(size_t len) {
    return len == 0 ? 1 : (len + CHUNK_LEN - 1) / CHUNK_LEN;
}

/* Largest power of two strictly below n (n >= 2). */
static inline uint64_t pow2_below(uint64_t n) {
    return (uint64_t)1 << (63 - __builtin_clzll(n - 1));
}

/* A subtree of at most SMALL_TREE_CHUNKS chunks (at least two), level by level. */
static void small_tree_cv(const uint8_t *input, size_t len, uint64_t counter, int is_root, uint8_t out[OUT_LEN]) {
    uint8_t cvs[SMALL_TREE_CHUNKS * OUT_LEN];
    size_t full = len / CHUNK_LEN;
    size_t tail = len % CHUNK_LEN;
    hash_many(input, CHUNK_LEN, full, CHUNK_LEN / BLOCK_LEN, counter, 1, 0, ROAR_B3_CHUNK_START, ROAR_B3_CHUNK_END,
              cvs);
    size_t n = full;
    if (tail != 0) {
        chunk_cv(input + full * CHUNK_LEN, tail, counter + full, 0, cvs + full * OUT_LEN);
        n++;
    }
    /* Pairs become parents (written in place: output i never overtakes input 2i); an odd last one moves up. */
    while (n > 2) {
        size_t pairs = n / 2;
        hash_many(cvs, 2 * OUT_LEN, pairs, 1, 0, 0, ROAR_B3_PARENT, 0, 0, cvs);
        if (n & 1) {
            memmove(cvs + pairs * OUT_LEN, cvs + (n - 1) * OUT_LEN, OUT_LEN);
        }
        n = pairs + (n & 1);
    }
    parent_cv(cvs, is_root, out);
}

/* Chaining value (or root output) of the subtree over `input`, whose first chunk has index `counter`. */
static void subtree_cv(const uint8_t *input, size_t len, uint64_t counter, int is_root, uint8_t out[OUT_LEN]) {
    size_t n = chunk_count(len);
    if (n == 1) {
        chunk_cv(input, len, counter, is_root, out);
        return;
    }
    if (n <= SMALL_TREE_CHUNKS) {
        small_tree_cv(input, len, counter, is_root, out);
        return;
    }
    uint64_t left_chunks = pow2_below(n);
    size_t left_len = (size_t)left_chunks * CHUNK_LEN;
    uint8_t pair[2 * OUT_LEN];
    subtree_cv(input, left_len, counter, 0, pair);
    subtree_cv(input + left_len, len - left_len, counter + left_chunks, 0, pair + OUT_LEN);
    parent_cv(pair, is_root, out);
}

/* ---------------------------------------------------------------------------------------------------------------
 * Streaming hasher
 */

static void chunk_reset(roar_blake3_hasher *h) {
    memcpy(h->chunk_cv, roar_b3_iv, sizeof h->chunk_cv);
    h->block_len = 0;
    h->blocks_compressed = 0;
}

void roar_blake3_init(roar_blake3_hasher *h) {
    chunk_reset(h);
    h->chunk_counter = 0;
    h->cv_stack_len = 0;
}

/* Add the chaining value of a complete subtree of `chunks` chunks starting at chunk h->chunk_counter (aligned to its
 * size). Merging is lazy: the entry pushed last stays unmerged until something follows it, because if the input
 * ends right after it, it is the rightmost node and its left neighbours may still need it for the root. Before
 * the push the stack is merged down to one entry per set bit of the chunk count. */
static void push_subtree(roar_blake3_hasher *h, const uint8_t cv[OUT_LEN], uint64_t chunks) {
    size_t want = (size_t)__builtin_popcountll(h->chunk_counter);
    while (h->cv_stack_len > want) {
        uint8_t *left = h->cv_stack + (size_t)(h->cv_stack_len - 2) * OUT_LEN;
        parent_cv(left, 0, left);
        h->cv_stack_len--;
    }
    memcpy(h->cv_stack + (size_t)h->cv_stack_len * OUT_LEN, cv, OUT_LEN);
    h->cv_stack_len++;
    h->chunk_counter += chunks;
}

static void chunk_output(const roar_blake3_hasher *h, int is_root, uint8_t out[OUT_LEN]) {
    uint32_t cv[8];
    memcpy(cv, h->chunk_cv, sizeof cv);
    uint8_t flags = (uint8_t)((h->blocks_compressed == 0 ? ROAR_B3_CHUNK_START : 0) | (is_root ? ROAR_B3_ROOT : 0));
    chunk_last_block(cv, h->block, h->block_len, h->chunk_counter, flags);
    words_to_bytes(cv, out);
}

/* Largest power of two <= n (n >= 1). */
static inline uint64_t pow2_at_most(uint64_t n) {
    return (uint64_t)1 << (63 - __builtin_clzll(n));
}

/* Size of the next subtree to push: a power of two of at most `avail` chunks, aligned at the chunk counter, and
 * never the whole input (a subtree starting at chunk 0 and ending where the input ends might be the root). */
static uint64_t next_subtree_chunks(uint64_t counter, uint64_t avail, size_t len) {
    uint64_t chunks = pow2_at_most(avail);
    if (counter != 0) {
        uint64_t align = counter & (~counter + 1);
        if (chunks > align) {
            chunks = align;
        }
    } else if (chunks * CHUNK_LEN == len) {
        chunks /= 2;
    }
    return chunks;
}

/* Whole chunks straight from the caller's buffer (the chunk state is empty). Returns the bytes consumed. */
static size_t absorb_chunks(roar_blake3_hasher *h, const uint8_t *in, size_t len) {
    size_t consumed = 0;
    for (;;) {
        uint64_t avail = (len - consumed) / CHUNK_LEN;
        if (avail == 0 || (h->chunk_counter == 0 && len - consumed == CHUNK_LEN)) {
            return consumed;
        }
        uint64_t chunks = next_subtree_chunks(h->chunk_counter, avail, len - consumed);
        uint8_t cv[OUT_LEN];
        if (chunks >= SMALL_TREE_CHUNKS) {
            size_t bytes = (size_t)chunks * CHUNK_LEN;
            subtree_cv(in + consumed, bytes, h->chunk_counter, 0, cv);
            push_subtree(h, cv, chunks);
            consumed += bytes;
            continue;
        }
        /* A batch of up to the next multiple of SMALL_TREE_CHUNKS: all chunk values at once, then each aligned
         * subtree within it reduced level by level. */
        uint64_t batch = SMALL_TREE_CHUNKS - (h->chunk_counter % SMALL_TREE_CHUNKS);
        if (batch > avail) {
            batch = avail;
        }
        uint8_t cvs[SMALL_TREE_CHUNKS * OUT_LEN];
        hash_many(in + consumed, CHUNK_LEN, (size_t)batch, CHUNK_LEN / BLOCK_LEN, h->chunk_counter, 1, 0,
                  ROAR_B3_CHUNK_START, ROAR_B3_CHUNK_END, cvs);
        uint64_t done = 0;
        while (done < batch) {
            chunks = next_subtree_chunks(h->chunk_counter, batch - done, len - consumed);
            uint8_t *group = cvs + done * OUT_LEN;
            for (uint64_t n = chunks; n > 1; n /= 2) {
                hash_many(group, 2 * OUT_LEN, (size_t)(n / 2), 1, 0, 0, ROAR_B3_PARENT, 0, 0, group);
            }
            push_subtree(h, group, chunks);
            done += chunks;
            consumed += (size_t)chunks * CHUNK_LEN;
        }
    }
}

void roar_blake3_update(roar_blake3_hasher *h, const void *input, size_t input_len) {
    const uint8_t *in = (const uint8_t *)input;
    size_t len = input_len;
    while (len > 0) {
        size_t chunk_len = (size_t)h->blocks_compressed * BLOCK_LEN + h->block_len;
        if (chunk_len == CHUNK_LEN) {
            uint8_t cv[OUT_LEN];
            chunk_output(h, 0, cv);
            push_subtree(h, cv, 1);
            chunk_reset(h);
            continue;
        }
        if (chunk_len == 0 && len >= CHUNK_LEN) {
            size_t used = absorb_chunks(h, in, len);
            in += used;
            len -= used;
            if (len == 0) {
                break;
            }
        }
        if (h->block_len == BLOCK_LEN) {
            compress1(h->chunk_cv, h->block, BLOCK_LEN, h->chunk_counter,
                                      h->blocks_compressed == 0 ? ROAR_B3_CHUNK_START : 0);
            h->blocks_compressed++;
            h->block_len = 0;
        }
        if (h->block_len == 0) {
            /* Whole blocks straight from the input; the chunk's last block always stays buffered. */
            while (len > BLOCK_LEN && h->blocks_compressed < CHUNK_LEN / BLOCK_LEN - 1) {
                compress1(h->chunk_cv, in, BLOCK_LEN, h->chunk_counter,
                                          h->blocks_compressed == 0 ? ROAR_B3_CHUNK_START : 0);
                h->blocks_compressed++;
                in += BLOCK_LEN;
                len -= BLOCK_LEN;
            }
        }
        size_t take = BLOCK_LEN - h->block_len;
        if (take > len) {
            take = len;
        }
        memcpy(h->block + h->block_len, in, take);
        h->block_len = (uint8_t)(h->block_len + take);
        in += take;
        len -= take;
    }
}

void roar_blake3_finalize(const roar_blake3_hasher *h, uint8_t out[OUT_LEN]) {
    size_t chunk_len = (size_t)h->blocks_compressed * BLOCK_LEN + h->block_len;
    size_t n = h->cv_stack_len;
    if (n == 0) {
        chunk_output(h, 1, out);
        return;
    }
    uint8_t stack[(ROAR_BLAKE3_MAX_DEPTH + 1) * OUT_LEN];
    memcpy(stack, h->cv_stack, n * OUT_LEN);
    uint8_t pair[2 * OUT_LEN];
    if (chunk_len > 0) {
        /* The current chunk is the rightmost leaf: finish the pending merges, then fold it in. */
        size_t want = (size_t)__builtin_popcountll(h->chunk_counter);
        while (n > want) {
            parent_cv(stack + (n - 2) * OUT_LEN, 0, stack + (n - 2) * OUT_LEN);
            n--;
        }
        chunk_output(h, 0, pair + OUT_LEN);
    } else {
        /* The input ended exactly after the subtree pushed last (never alone on the stack): it is the rightmost. */
        n--;
        memcpy(pair + OUT_LEN, stack + n * OUT_LEN, OUT_LEN);
    }
    for (size_t i = n; i-- > 0;) {
        memcpy(pair, stack + i * OUT_LEN, OUT_LEN);
        parent_cv(pair, i == 0, pair + OUT_LEN);
    }
    memcpy(out, pair + OUT_LEN, OUT_LEN);
}

void roar_blake3_hash(const void *input, size_t input_len, uint8_t out[OUT_LEN]) {
    subtree_cv((const uint8_t *)input, input_len, 0, 1, out);
}

void roar_blake3_hex(const uint8_t digest[OUT_LEN], char hex[2 * OUT_LEN + 1]) {
    static const char digits[] = "0123456789abcdef";
    for (int i = 0; i < OUT_LEN; i++) {
        hex[2 * i] = digits[digest[i] >> 4];
        hex[2 * i + 1] = digits[digest[i] & 15];
    }
    hex[2 * OUT_LEN] = '\0';
}

void roar_b3_subtree_cv(const uint8_t *input, size_t len, uint64_t counter, int is_root, uint8_t out[OUT_LEN]) {
    subtree_cv(input, len, counter, is_root, out);
}

void roar_b3_chunk_cv(const uint8_t *input, size_t len, uint64_t counter, int is_root, uint8_t out[OUT_LEN]) {
    chunk_cv(input, len, counter, is_root, out);
}

void roar_b3_parent_cv(const uint8_t left_right[2 * OUT_LEN], int is_root, uint8_t out[OUT_LEN]) {
    parent_cv(left_right, is_root, out);
}
