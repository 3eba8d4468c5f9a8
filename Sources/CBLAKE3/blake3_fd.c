/*
 * Hashing whole files: raw syscalls only (the preload library interposes read/pread/mmap, and hashing a file
 * there must never be traced), no malloc, optional threads.
 *
 * A file larger than one piece is cut into pieces of a power-of-two number of chunks, aligned, so every full
 * piece is a complete subtree of the BLAKE3 tree and the last (possibly partial) piece is one as well. The tree
 * over the pieces then has the same left-complete shape as the tree over chunks: the pieces' chaining values
 * are reduced level by level, pairing neighbours and moving an odd last one up. Threads take pieces from an
 * atomic counter, so two cores stay busy whatever the file size.
 */
#include "roar_blake3.h"

#include "blake3_internal.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#define CHUNK_LEN ROAR_BLAKE3_CHUNK_LEN
#define OUT_LEN ROAR_BLAKE3_OUT_LEN

/* Files up to this size are read with one pread into a stack buffer. */
#define SMALL_FILE_BYTES (16u * 1024u)
/* Single-threaded files up to this size stream through the stack buffer instead of a mapped read buffer. */
#ifndef ROAR_BLAKE3_STREAM_MAX_BYTES
#define ROAR_BLAKE3_STREAM_MAX_BYTES (256u * 1024u)
#endif
/* Read buffer of a worker (pread mode), allocated with an anonymous mapping. A power of two of chunks. */
#ifndef READ_BUFFER_BYTES
#define READ_BUFFER_BYTES (512u * 1024u)
#endif
/* At most this many pieces: their chaining values live on the stack. */
#define MAX_PIECES 256u
/* Smallest piece: smaller pieces cost more in coordination than they gain in balance. */
#define MIN_PIECE_BYTES (256u * 1024u)
#define MAX_THREADS 64

/* Below this size (bytes) `threads = 0` hashes on the calling thread only; see bench/hash/run for the measurement. */
#ifndef ROAR_BLAKE3_THREAD_MIN_BYTES
#define ROAR_BLAKE3_THREAD_MIN_BYTES (2u * 1024u * 1024u)
#endif

#if defined(__linux__)
#define RAW_PREAD(fd, buf, len, offset) syscall(SYS_pread64, fd, buf, len, (off_t)(offset))
#define RAW_READ(fd, buf, len) syscall(SYS_read, fd, buf, len)
#define RAW_FSTAT(fd, st) syscall(SYS_fstat, fd, st)
#define RAW_MMAP(addr, len, prot, flags, fd, offset) ((void *)syscall(SYS_mmap, addr, len, prot, flags, fd, offset))
#define RAW_MUNMAP(addr, len) syscall(SYS_munmap, addr, len)
#define RAW_MADVISE(addr, len, advice) syscall(SYS_madvise, addr, len, advice)
#else
#define RAW_PREAD(fd, buf, len, offset) pread(fd, buf, len, (off_t)(offset))
#define RAW_READ(fd, buf, len) read(fd, buf, len)
#define RAW_FSTAT(fd, st) fstat(fd, st)
#define RAW_MMAP(addr, len, prot, flags, fd, offset) mmap(addr, len, prot, flags, fd, offset)
#define RAW_MUNMAP(addr, len) munmap(addr, len)
#define RAW_MADVISE(addr, len, advice) madvise(addr, len, advice)
#endif
#ifndef ROAR_B3_POPULATE
#define ROAR_B3_POPULATE 1
#endif
#ifndef MAP_POPULATE
#define MAP_POPULATE 0
#endif

static long sys_pread(int fd, void *buf, size_t len, uint64_t offset) {
    for (;;) {
        long n = RAW_PREAD(fd, buf, len, offset);
        if (n >= 0 || errno != EINTR) {
            return n < 0 ? -errno : n;
        }
    }
}

static long sys_read(int fd, void *buf, size_t len) {
    for (;;) {
        long n = RAW_READ(fd, buf, len);
        if (n >= 0 || errno != EINTR) {
            return n < 0 ? -errno : n;
        }
    }
}

static void *sys_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t offset) {
    return RAW_MMAP(addr, len, prot, flags, fd, offset);
}

static void sys_munmap(void *addr, size_t len) {
    RAW_MUNMAP(addr, len);
}

/* Fill `buf` from `offset`; 0 when all `len` bytes came, -ESTALE if the file ended early, or -errno. */
static int read_exact(int fd, uint8_t *buf, size_t len, uint64_t offset) {
    while (len > 0) {
        long n = sys_pread(fd, buf, len, offset);
        if (n < 0) {
            return (int)n;
        }
        if (n == 0) {
            return -ESTALE;
        }
        buf += n;
        len -= (size_t)n;
        offset += (uint64_t)n;
    }
    return 0;
}

/* Streaming fallback for pipes, sockets, character devices and files that change while being hashed. */
static int hash_stream(int fd, int seekable, uint8_t out[OUT_LEN]) {
    roar_blake3_hasher hasher;
    roar_blake3_init(&hasher);
    uint8_t buf[SMALL_FILE_BYTES];
    uint64_t offset = 0;
    for (;;) {
        long n = seekable ? sys_pread(fd, buf, sizeof buf, offset) : sys_read(fd, buf, sizeof buf);
        if (n == -ESPIPE && seekable && offset == 0) {
            seekable = 0;
            continue;
        }
        if (n < 0) {
            return (int)n;
        }
        if (n == 0) {
            break;
        }
        roar_blake3_update(&hasher, buf, (size_t)n);
        offset += (uint64_t)n;
    }
    roar_blake3_finalize(&hasher, out);
    return 0;
}

static int online_cpus(void) {
#if !defined(__linux__)
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
#else
    uint64_t mask[16];
    memset(mask, 0, sizeof mask);
    long n = syscall(SYS_sched_getaffinity, 0, sizeof mask, mask);
    if (n <= 0) {
        return 1;
    }
    int count = 0;
    for (size_t i = 0; i < (size_t)n / sizeof mask[0] && i < 16; i++) {
        count += __builtin_popcountll(mask[i]);
    }
    return count > 0 ? count : 1;
#endif
}

/*
 * SIGBUS guard for ROAR_BLAKE3_FD_MMAP: a mapped file truncated by another process faults with SIGBUS when the
 * hasher touches a page past the new end. While any mapped hash runs, a handler is installed that jumps back
 * out of the hashing thread's work (the call then re-reads the file with pread); a SIGBUS from anywhere else is
 * passed to the previous disposition. Counted, so concurrent calls share one installation.
 */
static pthread_mutex_t guard_lock = PTHREAD_MUTEX_INITIALIZER;
static int guard_users;
static struct sigaction guard_previous;
static __thread sigjmp_buf *guard_jump;

static void guard_handler(int sig, siginfo_t *info, void *ucontext) {
    sigjmp_buf *jump = guard_jump;
    if (jump != NULL) {
        siglongjmp(*jump, 1);
    }
    if (guard_previous.sa_flags & SA_SIGINFO) {
        if (guard_previous.sa_sigaction != NULL) {
            guard_previous.sa_sigaction(sig, info, ucontext);
        }
    } else if (guard_previous.sa_handler == SIG_DFL) {
        struct sigaction dfl;
        memset(&dfl, 0, sizeof dfl);
        dfl.sa_handler = SIG_DFL;
        sigaction(sig, &dfl, NULL); /* the faulting access repeats and ends the process as it would have */
    } else if (guard_previous.sa_handler != SIG_IGN) {
        guard_previous.sa_handler(sig);
    }
}

static void guard_acquire(void) {
    pthread_mutex_lock(&guard_lock);
    if (guard_users++ == 0) {
        struct sigaction action;
        memset(&action, 0, sizeof action);
        action.sa_sigaction = guard_handler;
        action.sa_flags = SA_SIGINFO | SA_NODEFER;
        sigemptyset(&action.sa_mask);
        sigaction(SIGBUS, &action, &guard_previous);
    }
    pthread_mutex_unlock(&guard_lock);
}

static void guard_release(void) {
    pthread_mutex_lock(&guard_lock);
    if (--guard_users == 0) {
        sigaction(SIGBUS, &guard_previous, NULL);
    }
    pthread_mutex_unlock(&guard_lock);
}

struct file_job {
    int fd;
    const uint8_t *map; /* whole file mapped, or NULL to read with pread */
    uint64_t size;
    uint64_t piece_bytes;
    size_t pieces;
    _Atomic size_t next_piece;
    _Atomic int error;
    uint8_t *cvs; /* pieces * OUT_LEN */
    _Atomic uint64_t bytes_done;
    roar_blake3_progress_fn progress;
    void *context;
};

struct worker_arg {
    struct file_job *job;
    int is_caller;
};

/* Chaining value of [offset, offset + len) read through `buf` (a subtree: offset aligned to its size). */
static int range_cv(struct file_job *job, uint8_t *buf, uint64_t offset, uint64_t len, uint8_t out[OUT_LEN]) {
    if (len <= READ_BUFFER_BYTES) {
        int rc = read_exact(job->fd, buf, (size_t)len, offset);
        if (rc != 0) {
            return rc;
        }
        roar_b3_subtree_cv(buf, (size_t)len, offset / CHUNK_LEN, 0, out);
        return 0;
    }
    uint64_t chunks = (len + CHUNK_LEN - 1) / CHUNK_LEN;
    uint64_t left = ((uint64_t)1 << (63 - __builtin_clzll(chunks - 1))) * CHUNK_LEN;
    uint8_t pair[2 * OUT_LEN];
    int rc = range_cv(job, buf, offset, left, pair);
    if (rc == 0) {
        rc = range_cv(job, buf, offset + left, len - left, pair + OUT_LEN);
    }
    if (rc == 0) {
        roar_b3_parent_cv(pair, 0, out);
    }
    return rc;
}

static void *file_worker(void *arg) {
    struct file_job *job = ((struct worker_arg *)arg)->job;
    int is_caller = ((struct worker_arg *)arg)->is_caller;
    uint8_t *buf = NULL;
    if (job->map == NULL) {
        void *p = sys_mmap(NULL, READ_BUFFER_BYTES, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED) {
            int expected = 0;
            atomic_compare_exchange_strong(&job->error, &expected, -ENOMEM);
            return NULL;
        }
        buf = (uint8_t *)p;
    }
    for (;;) {
        if (atomic_load_explicit(&job->error, memory_order_relaxed) != 0) {
            break;
        }
        size_t i = atomic_fetch_add_explicit(&job->next_piece, 1, memory_order_relaxed);
        if (i >= job->pieces) {
            break;
        }
        uint64_t offset = (uint64_t)i * job->piece_bytes;
        uint64_t len = job->size - offset < job->piece_bytes ? job->size - offset : job->piece_bytes;
        uint8_t *out = job->cvs + i * OUT_LEN;
        if (job->map != NULL) {
            sigjmp_buf jump;
            if (sigsetjmp(jump, 1) != 0) {
                guard_jump = NULL;
                int expected = 0;
                atomic_compare_exchange_strong(&job->error, &expected, -ESTALE); /* truncated while mapped */
                break;
            }
            guard_jump = &jump;
            roar_b3_subtree_cv(job->map + offset, (size_t)len, offset / CHUNK_LEN, 0, out);
            guard_jump = NULL;
        } else {
            int rc = range_cv(job, buf, offset, len, out);
            if (rc != 0) {
                int expected = 0;
                atomic_compare_exchange_strong(&job->error, &expected, rc);
                break;
            }
        }
        uint64_t done = atomic_fetch_add_explicit(&job->bytes_done, len, memory_order_relaxed) + len;
        if (is_caller && job->progress != NULL) {
            job->progress(job->context, done, job->size);
        }
    }
    if (buf != NULL) {
        sys_munmap(buf, READ_BUFFER_BYTES);
    }
    return NULL;
}

static int hash_large(int fd, uint64_t size, int threads, unsigned flags, roar_blake3_progress_fn progress,
                      void *context, uint8_t out[OUT_LEN]) {
    struct file_job job;
    memset(&job, 0, sizeof job);
    job.fd = fd;
    job.size = size;
    job.progress = progress;
    job.context = context;
    if (threads <= 0) {
        threads = size >= ROAR_BLAKE3_THREAD_MIN_BYTES ? online_cpus() : 1;
    }
    if (threads == 1 && size <= ROAR_BLAKE3_STREAM_MAX_BYTES && !(flags & ROAR_BLAKE3_FD_MMAP)) {
        return hash_stream(fd, 1, out);
    }
    if (threads > MAX_THREADS) {
        threads = MAX_THREADS;
    }
    /* Pieces: a power of two of chunks, at least MIN_PIECE_BYTES, at most MAX_PIECES of them, and (with threads)
     * about eight per thread so the last ones balance out. */
    uint64_t piece = MIN_PIECE_BYTES;
    uint64_t want_pieces = (uint64_t)threads * 8;
    while ((threads > 1 && piece * want_pieces < size) || (size + piece - 1) / piece > MAX_PIECES) {
        piece *= 2;
    }
    job.piece_bytes = piece;
    job.pieces = (size_t)((size + piece - 1) / piece);
    if (job.pieces == 1) {
        return hash_stream(fd, 1, out);
    }
    if ((uint64_t)threads > job.pieces) {
        threads = (int)job.pieces;
    }
    void *map = NULL;
    if (flags & ROAR_BLAKE3_FD_MMAP) {
        void *p = sys_mmap(NULL, (size_t)size, PROT_READ, MAP_SHARED | (threads == 1 && ROAR_B3_POPULATE ? MAP_POPULATE : 0), fd, 0);
        if (p != MAP_FAILED) {
            map = p;
            job.map = (const uint8_t *)p;
            RAW_MADVISE(p, (size_t)size, MADV_SEQUENTIAL);
            guard_acquire();
        }
    }
    uint8_t cvs[MAX_PIECES * OUT_LEN];
    job.cvs = cvs;

    pthread_t tids[MAX_THREADS];
    struct worker_arg helper = {&job, 0}, caller = {&job, 1};
    int started = 0;
    for (int t = 1; t < threads; t++) {
        if (pthread_create(&tids[started], NULL, file_worker, &helper) != 0) {
            break;
        }
        started++;
    }
    file_worker(&caller);
    for (int t = 0; t < started; t++) {
        pthread_join(tids[t], NULL);
    }
    if (map != NULL) {
        guard_release();
        sys_munmap(map, (size_t)size);
    }
    int rc = atomic_load(&job.error);
    if (rc != 0) {
        return rc;
    }
    /* The tree over the pieces: pair neighbours, an odd last one moves up; the last parent is the root. */
    size_t n = job.pieces;
    while (n > 2) {
        size_t pairs = n / 2;
        for (size_t i = 0; i < pairs; i++) {
            roar_b3_parent_cv(cvs + 2 * i * OUT_LEN, 0, cvs + i * OUT_LEN);
        }
        if (n & 1) {
            memmove(cvs + pairs * OUT_LEN, cvs + (n - 1) * OUT_LEN, OUT_LEN);
        }
        n = pairs + (n & 1);
    }
    roar_b3_parent_cv(cvs, 1, out);
    return 0;
}

int roar_blake3_hash_fd_progress(int fd, int threads, unsigned flags, roar_blake3_progress_fn progress,
                                 void *context, uint8_t out[ROAR_BLAKE3_OUT_LEN]) {
    int saved_errno = errno;
    int rc;
    struct stat st;
    if (RAW_FSTAT(fd, &st) != 0) {
        rc = -errno;
    } else if (!S_ISREG(st.st_mode)) {
        rc = hash_stream(fd, 0, out);
    } else if ((uint64_t)st.st_size <= SMALL_FILE_BYTES) {
        uint8_t buf[SMALL_FILE_BYTES];
        long n = sys_pread(fd, buf, sizeof buf, 0);
        if (n < 0) {
            rc = (int)n;
        } else if ((size_t)n < sizeof buf) {
            roar_b3_subtree_cv(buf, (size_t)n, 0, 1, out);
            rc = 0;
        } else {
            rc = hash_stream(fd, 1, out); /* grew since fstat */
        }
    } else {
        uint64_t size = (uint64_t)st.st_size;
        rc = hash_large(fd, size, threads, flags, progress, context, out);
        if (rc == 0) {
            /* A file that grew while hashed: the extra bytes count, as they would for a stream. */
            uint8_t probe;
            long n = sys_pread(fd, &probe, 1, size);
            if (n > 0) {
                rc = hash_stream(fd, 1, out);
            }
        } else if (rc == -ESTALE) {
            rc = hash_stream(fd, 1, out); /* shrank while hashed */
        }
    }
    errno = saved_errno;
    return rc;
}

int roar_blake3_hash_fd_ex(int fd, int threads, unsigned flags, uint8_t out[ROAR_BLAKE3_OUT_LEN]) {
    return roar_blake3_hash_fd_progress(fd, threads, flags, NULL, NULL, out);
}

int roar_blake3_hash_fd(int fd, int threads, uint8_t out[ROAR_BLAKE3_OUT_LEN]) {
    return roar_blake3_hash_fd_progress(fd, threads, 0, NULL, NULL, out);
}
