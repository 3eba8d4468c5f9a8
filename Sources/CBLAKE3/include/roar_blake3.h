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
 * thread only). Uses raw syscalls only (safe inside the preload library), no malloc, no signal handlers.
 * Returns 0, or -errno. Regular files of 512 KiB and more are mapped under a read lease when one can be had
 * (see roar_blake3_hash_fd_ex), else read with pread.
 */
int roar_blake3_hash_fd(int fd, int threads, uint8_t out[ROAR_BLAKE3_OUT_LEN]);

/*
 * roar_blake3_hash_fd with options.
 *
 * Without flags (what `roar hash` uses): a regular file of at least 512 KiB is reopened read-only through
 * /proc/self/fd and, if a read lease (F_SETLEASE F_RDLCK) can be set on that private open file, mapped and hashed
 * from the page cache like b3sum does (no copy: ~40% less CPU than pread). While the lease is held, opening the
 * file for writing or truncate(2) waits for a lease break; the hash sees the pending break within one 4 MiB slice,
 * stops using the mapping, lets go, and reads the file again with pread. The lease is set only when no one has
 * the file open for writing, on files we own (or with CAP_LEASE), where fs.lease-break-time >= 10 s; otherwise,
 * or if anything fails, pread as before. Side effects, only while a file is being hashed: a writer opening it
 * waits up to a slice (~1 ms) plus the unmapping; an O_NONBLOCK open for writing (coreutils `truncate`) fails with
 * EAGAIN; a lease break landing between two fcntl calls at the start sends one SIGURG (ignored by default).
 * Not covered by the lease (the process would get SIGBUS as b3sum would): another process opening the file with
 * O_RDONLY|O_TRUNC (POSIX leaves it undefined; Linux truncates without breaking read leases), and media errors
 * reading pages that are not cached. ROAR_BLAKE3_FD_PREAD never maps.
 *
 * ROAR_BLAKE3_FD_MMAP maps files over 256 KiB without a lease (about 30% less CPU, as b3sum does). A file
 * truncated by another process while mapped faults with SIGBUS: for the duration of the call a SIGBUS handler is
 * installed that turns this into a re-read (and passes any other SIGBUS to the previous handler). The preload
 * library must not use it: it would touch the traced program's signal handlers.
 */
#define ROAR_BLAKE3_FD_MMAP 1u
#define ROAR_BLAKE3_FD_PREAD 2u
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

/*
 * Read leases on a private read-only fd (Linux; elsewhere `take` fails). While one is held, opening the file for
 * writing or truncate(2) first waits for the holder to let go (up to fs.lease-break-time). The preload library holds
 * one on a file whose digest it is still computing after the program closed it. `take`: 0, or -1 (the file is open
 * for writing somewhere, is not ours without CAP_LEASE, leases are off, fs.lease-break-time < 10 s, ...); a break
 * signals nobody (one SIGURG at most, ignored by default). `held`: 1 while held with no break pending. `drop` lets
 * go; the fd stays open.
 */
int roar_blake3_lease_take(int fd);
int roar_blake3_lease_held(int fd);
void roar_blake3_lease_drop(int fd);

/* "/proc/self/fd/<fd>", without stdio or malloc: how a private read-only open of a file behind an fd is made. */
#define ROAR_PROC_FD_PATH_MAX 40
void roar_proc_fd_path(int fd, char path[ROAR_PROC_FD_PATH_MAX]);

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
