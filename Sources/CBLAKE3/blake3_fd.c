/*
 * Hashing whole files: raw syscalls only (the preload library interposes read/pread/mmap, and hashing a file
 * there must never be traced), no malloc, optional threads.
 *
 * A file larger than one piece is cut into pieces of a power-of-two number of chunks, aligned, so every full
 * piece is a complete subtree of the BLAKE3 tree and the last (possibly partial) piece is one as well. The tree
 * over the pieces then has the same left-complete shape as the tree over chunks: the pieces' chaining values
 * are reduced level by level, pairing neighbours and moving an odd last one up. Threads take pieces from an
 * atomic counter, so two cores stay busy whatever the file size.
 *
 * Without ROAR_BLAKE3_FD_MMAP (the preload library's rehash at close), large files are still mapped when that is
 * safe without a SIGBUS handler: the file is reopened read-only and a read lease (F_SETLEASE) is taken on that
 * private open file. While the lease is held nobody can open the file for writing or truncate(2) it without first
 * breaking the lease, and a break waits for us (lease-break-time, 45 s by default) instead of truncating under
 * the mapping; the hash notices a pending break between slices of a few MiB, lets go, and finishes with pread.
 * Reading through pread costs a copy of every byte (~40% more CPU than hashing from the page cache directly, and
 * b3sum maps), so this is what makes the preload's rehash as fast as b3sum. Whenever a lease cannot be had (file
 * open for writing somewhere, not ours without CAP_LEASE, leases disabled, a file system without them) the file is
 * read with pread as before.
 */
#include "roar_blake3.h"

#include "blake3_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <string.h>
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

/* Files from this size are mapped under a read lease (see the top) when ROAR_BLAKE3_FD_MMAP is not given: below it
 * the reopen, lease and mapping cost more than the copy they save. 0 turns lease mapping off. */
#ifndef ROAR_BLAKE3_LEASE_MIN_BYTES
#define ROAR_BLAKE3_LEASE_MIN_BYTES (512u * 1024u)
#endif
/* Under a lease, the lease is checked before each slice of at most this size: a writer waiting on a lease break
 * waits about one slice (~1 ms per 4 MiB). */
#define LEASE_SLICE_BYTES (4u * 1024u * 1024u)
/* Leases are only used when a break gives us at least this many seconds (fs.lease-break-time): a thread stalled
 * longer than that between its lease check and the end of a slice could have the lease revoked under it. */
#define LEASE_MIN_BREAK_SECONDS 10
/* job.error when a lease break was seen: stop using the mapping, finish with pread. */
#define LEASE_BROKEN (-100000)

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
#define RAW_OPEN(path, flags) syscall(SYS_openat, AT_FDCWD, path, flags, 0)
#define RAW_CLOSE(fd) syscall(SYS_close, fd)
#define RAW_FCNTL(fd, cmd, arg) syscall(SYS_fcntl, fd, cmd, arg)
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
#ifdef MADV_POPULATE_READ
#define MADV_POPULATE_READ_ADVICE MADV_POPULATE_READ
#else
#define MADV_POPULATE_READ_ADVICE 22
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


void roar_proc_fd_path(int fd, char path[ROAR_PROC_FD_PATH_MAX]) {
    static const char prefix[] = "/proc/self/fd/";
    memcpy(path, prefix, sizeof prefix - 1);
    char digits[12];
    int n = 0;
    unsigned value = (unsigned)fd;
    do {
        digits[n++] = (char)('0' + value % 10);
        value /= 10;
    } while (value != 0);
    size_t at = sizeof prefix - 1;
    while (n > 0) {
        path[at++] = digits[--n];
    }
    path[at] = '\0';
}

#if defined(__linux__) && defined(F_SETLEASE) && defined(F_GETLEASE)
#define HAVE_LEASES 1
/* fs.lease-break-time, read once: -1 not yet, 0 unusable or unknown. */
static _Atomic int lease_break_seconds = -1;

static int lease_break_time_ok(void) {
    int known = atomic_load_explicit(&lease_break_seconds, memory_order_relaxed);
    if (known < 0) {
        known = 0;
        long pfd = RAW_OPEN("/proc/sys/fs/lease-break-time", O_RDONLY | O_CLOEXEC);
        if (pfd >= 0) {
            char text[24];
            long n = sys_read((int)pfd, text, sizeof text - 1);
            RAW_CLOSE((int)pfd);
            int value = 0, digits = 0;
            for (long i = 0; i < n && text[i] >= '0' && text[i] <= '9' && value < 1000000; i++, digits++) {
                value = value * 10 + (text[i] - '0');
            }
            known = digits > 0 ? value : 0;
        }
        atomic_store_explicit(&lease_break_seconds, known, memory_order_relaxed);
    }
    return known >= LEASE_MIN_BREAK_SECONDS;
}

/*
 * Setting a lease makes this process the owner that a break would signal; F_SETOWN 0 right after means a break
 * signals nobody. For the two system calls in between, the signal is set to SIGURG, ignored unless the program
 * handles it (a break landing exactly there would deliver one spurious SIGURG, never SIGIO, whose default action
 * would end the program).
 */
int roar_blake3_lease_take(int fd) {
    if (!lease_break_time_ok()) {
        return -1;
    }
    if (RAW_FCNTL(fd, F_SETSIG, SIGURG) != 0 || RAW_FCNTL(fd, F_SETLEASE, F_RDLCK) != 0) {
        return -1;
    }
    RAW_FCNTL(fd, F_SETOWN, 0);
    return 0;
}

int roar_blake3_lease_held(int fd) {
    return RAW_FCNTL(fd, F_GETLEASE, 0) == F_RDLCK;
}

void roar_blake3_lease_drop(int fd) {
    RAW_FCNTL(fd, F_SETLEASE, F_UNLCK);
}

static int lease_held(int lfd) {
    return roar_blake3_lease_held(lfd);
}

static void lease_release(int lfd) {
    roar_blake3_lease_drop(lfd);
    RAW_CLOSE(lfd);
}

/*
 * A private read-only open of the file behind `fd` with a read lease on it, or -1. The reopen keeps the caller's
 * open file (its lease, F_SETOWN/F_SETSIG settings) untouched.
 */
static int lease_open(int fd, const struct stat *st) {
    if (!lease_break_time_ok()) {
        return -1;
    }
    char path[ROAR_PROC_FD_PATH_MAX];
    roar_proc_fd_path(fd, path);
    /* O_NONBLOCK: if someone holds a write lease, fail instead of waiting for its break. */
    long lfd = RAW_OPEN(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    if (lfd < 0) {
        return -1;
    }
    struct stat now;
    if (RAW_FSTAT((int)lfd, &now) != 0 || now.st_dev != st->st_dev || now.st_ino != st->st_ino) {
        RAW_CLOSE((int)lfd); /* fd was closed and reused meanwhile */
        return -1;
    }
    if (roar_blake3_lease_take((int)lfd) != 0) {
        RAW_CLOSE((int)lfd);
        return -1;
    }
    /* Under the lease the size can no longer shrink; it must still be the size the pieces are planned for. */
    if (RAW_FSTAT((int)lfd, &now) != 0 || now.st_size != st->st_size) {
        lease_release((int)lfd);
        return -1;
    }
    return (int)lfd;
}
#else
#define HAVE_LEASES 0
int roar_blake3_lease_take(int fd) {
    (void)fd;
    return -1;
}
int roar_blake3_lease_held(int fd) {
    (void)fd;
    return 0;
}
void roar_blake3_lease_drop(int fd) {
    (void)fd;
}
static int lease_held(int lfd) {
    (void)lfd;
    return 0;
}
static void lease_release(int lfd) {
    (void)lfd;
}
#endif

struct file_job {
    int fd;
    const uint8_t *map; /* whole file mapped, or NULL to read with pread */
    int lease_fd;       /* >= 0: `map` is guarded by a read lease on this descriptor, not by the SIGBUS handler */
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

/* Chaining value of a mapped subtree under a lease: checked before each slice; LEASE_BROKEN once a break is
 * pending (the mapping is then not touched again). */
static int map_range_cv(struct file_job *job, uint64_t offset, uint64_t len, uint8_t out[OUT_LEN]) {
    if (len <= LEASE_SLICE_BYTES) {
        if (atomic_load_explicit(&job->error, memory_order_relaxed) != 0 || !lease_held(job->lease_fd)) {
            return LEASE_BROKEN;
        }
        /* Page tables for the slice in one call (cheaper than faulting it in, and per thread unlike MAP_POPULATE).
         * EFAULT means part of it is past the end of the file now: never touch it. EINVAL: kernel before 5.14. */
        if (RAW_MADVISE((void *)(job->map + offset), (size_t)len, MADV_POPULATE_READ_ADVICE) != 0 && errno == EFAULT) {
            return LEASE_BROKEN;
        }
        roar_b3_subtree_cv(job->map + offset, (size_t)len, offset / CHUNK_LEN, 0, out);
        return 0;
    }
    uint64_t chunks = (len + CHUNK_LEN - 1) / CHUNK_LEN;
    uint64_t left = ((uint64_t)1 << (63 - __builtin_clzll(chunks - 1))) * CHUNK_LEN;
    uint8_t pair[2 * OUT_LEN];
    int rc = map_range_cv(job, offset, left, pair);
    if (rc == 0) {
        rc = map_range_cv(job, offset + left, len - left, pair + OUT_LEN);
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
        if (job->map != NULL && job->lease_fd >= 0) {
            int rc = map_range_cv(job, offset, len, out);
            if (rc != 0) {
                int expected = 0;
                atomic_compare_exchange_strong(&job->error, &expected, rc);
                break;
            }
        } else if (job->map != NULL) {
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

/* Runs the workers of `job`: `threads - 1` new threads and this one. */
static void run_job(struct file_job *job, int threads) {
    pthread_t tids[MAX_THREADS];
    struct worker_arg helper = {job, 0}, caller = {job, 1};
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
}

static int hash_large(int fd, const struct stat *st, int threads, unsigned flags, roar_blake3_progress_fn progress,
                      void *context, uint8_t out[OUT_LEN]) {
    uint64_t size = (uint64_t)st->st_size;
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
    int guarded = 0;
    job.lease_fd = -1;
    if (flags & ROAR_BLAKE3_FD_MMAP) {
        void *p = sys_mmap(NULL, (size_t)size, PROT_READ, MAP_SHARED | (threads == 1 && ROAR_B3_POPULATE ? MAP_POPULATE : 0), fd, 0);
        if (p != MAP_FAILED) {
            map = p;
            job.map = (const uint8_t *)p;
            RAW_MADVISE(p, (size_t)size, MADV_SEQUENTIAL);
            guard_acquire();
            guarded = 1;
        }
    } else if (HAVE_LEASES && !(flags & ROAR_BLAKE3_FD_PREAD) && ROAR_BLAKE3_LEASE_MIN_BYTES != 0 &&
               size >= ROAR_BLAKE3_LEASE_MIN_BYTES && progress == NULL) {
        /* Not with a progress callback: one that wrote to the file would wait on our own lease break. */
        int lfd = lease_open(fd, st);
        if (lfd >= 0) {
            void *p = sys_mmap(NULL, (size_t)size, PROT_READ, MAP_SHARED, lfd, 0);
            if (p != MAP_FAILED) {
                map = p;
                job.map = (const uint8_t *)p;
                job.lease_fd = lfd;
                RAW_MADVISE(p, (size_t)size, MADV_SEQUENTIAL);
            } else {
                lease_release(lfd);
            }
        }
    }
    uint8_t cvs[MAX_PIECES * OUT_LEN];
    job.cvs = cvs;

    run_job(&job, threads);
    if (job.lease_fd >= 0) {
        /* All workers are done with the mapping: a truncation now cannot fault anyone. Let a waiting writer go
         * before the (slower) unmapping. */
        lease_release(job.lease_fd);
    }
    if (map != NULL) {
        if (guarded) {
            guard_release();
        }
        sys_munmap(map, (size_t)size);
    }
    int rc = atomic_load(&job.error);
    if (rc == LEASE_BROKEN) {
        /* Someone wants to write or truncate the file: it was let go; read what is there now. */
        job.map = NULL;
        job.lease_fd = -1;
        atomic_store(&job.error, 0);
        atomic_store(&job.next_piece, 0);
        atomic_store(&job.bytes_done, 0);
        run_job(&job, threads);
        rc = atomic_load(&job.error);
    }
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
        rc = hash_large(fd, &st, threads, flags, progress, context, out);
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
