/*
 * BLAKE3 for roar: one C implementation shared by the Swift side (RoarHash) and the preload
 * library (compiled into libroar_preload.so by native/build.sh, where these symbols stay hidden).
 */
#ifndef ROAR_BLAKE3_H
#define ROAR_BLAKE3_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define ROAR_BLAKE3_OUT_LEN 32
#define ROAR_BLAKE3_BLOCK_LEN 64
#define ROAR_BLAKE3_CHUNK_LEN 1024
#define ROAR_BLAKE3_MAX_DEPTH 54

/* Incremental hasher. Plain data: copyable, no heap, safe to place in any memory. */
typedef struct roar_blake3_hasher {
    uint32_t chunk_cv[8];
    uint64_t chunk_counter;
    uint8_t block[ROAR_BLAKE3_BLOCK_LEN];
    uint8_t block_len;
    uint8_t blocks_compressed;
    uint8_t cv_stack_len;
    uint8_t cv_stack[(ROAR_BLAKE3_MAX_DEPTH + 1) * ROAR_BLAKE3_OUT_LEN];
} roar_blake3_hasher;

void roar_blake3_init(roar_blake3_hasher *hasher);
void roar_blake3_update(roar_blake3_hasher *hasher, const void *input, size_t input_len);
/* Does not modify the hasher: update may continue afterwards. */
void roar_blake3_finalize(const roar_blake3_hasher *hasher, uint8_t out[ROAR_BLAKE3_OUT_LEN]);

/* One-shot over a buffer. */
void roar_blake3_hash(const void *input, size_t input_len, uint8_t out[ROAR_BLAKE3_OUT_LEN]);

/*
 * Hash a whole file from offset 0 to EOF using up to `threads` threads (0 = automatic, 1 = this
 * thread only). Uses raw syscalls only (safe inside the preload library). Returns 0, or -errno.
 */
int roar_blake3_hash_fd(int fd, int threads, uint8_t out[ROAR_BLAKE3_OUT_LEN]);

/*
 * roar_blake3_hash_fd with options. ROAR_BLAKE3_FD_MMAP maps files over 256 KiB instead of reading them into a
 * buffer (about 30% less CPU, as b3sum does). A file truncated by another process while mapped faults with
 * SIGBUS: for the duration of the call a SIGBUS handler is installed that turns this into a re-read (and passes
 * any other SIGBUS to the previous handler). The preload library must not use it: it would touch the traced
 * program's signal handlers. Without the flag: pread only, no signal handling, ~24 KiB of stack.
 */
#define ROAR_BLAKE3_FD_MMAP 1u
int roar_blake3_hash_fd_ex(int fd, int threads, unsigned flags, uint8_t out[ROAR_BLAKE3_OUT_LEN]);

/*
 * roar_blake3_hash_fd_ex that reports progress for large files: `progress(context, bytes_done, bytes_total)` is
 * called on the calling thread, a few hundred times at most, never for files hashed in one piece.
 */
typedef void (*roar_blake3_progress_fn)(void *context, uint64_t bytes_done, uint64_t bytes_total);
int roar_blake3_hash_fd_progress(int fd, int threads, unsigned flags, roar_blake3_progress_fn progress,
                                 void *context, uint8_t out[ROAR_BLAKE3_OUT_LEN]);

/*
 * Many inputs at once: the chunks and parents of small inputs share the SIMD lanes (a 4 KiB input alone uses a
 * quarter of an AVX-512 call). Same digests as roar_blake3_hash on each input; no allocation.
 */
void roar_blake3_hash_inputs(size_t count, const void *const inputs[], const size_t lengths[],
                             uint8_t (*outs)[ROAR_BLAKE3_OUT_LEN]);

/*
 * Many open files at once: files under 16 KiB are read (pread at offset 0) into `scratch` and hashed together as
 * roar_blake3_hash_inputs does; others as roar_blake3_hash_fd_ex(fd, threads, flags). results[i] is 0 or -errno.
 * `scratch` must hold ROAR_BLAKE3_BATCH_SCRATCH bytes. Not for the preload library (stack use ~30 KiB).
 */
#define ROAR_BLAKE3_BATCH_SCRATCH (256u * 1024u)
void roar_blake3_hash_fds(size_t count, const int fds[], int threads, unsigned flags, void *scratch,
                          uint8_t (*outs)[ROAR_BLAKE3_OUT_LEN], int results[]);

/* Lowercase hex of a digest into `hex` (65 bytes incl. NUL). */
void roar_blake3_hex(const uint8_t digest[ROAR_BLAKE3_OUT_LEN], char hex[2 * ROAR_BLAKE3_OUT_LEN + 1]);

/* The compression kernel in use: "portable", "sse41", "avx2" or "avx512". */
const char *roar_blake3_kernel(void);
/* Force a kernel (for tests and benchmarks); returns 0, or -1 if the CPU lacks it. */
int roar_blake3_force_kernel(const char *name);

#ifdef __cplusplus
}
#endif
#endif
