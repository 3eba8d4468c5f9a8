/*
 * libroar_preload.so — internal declarations shared by the translation units of the preload library.
 *
 * Everything declared here is internal: the library is built with -fvisibility=hidden, so only the symbols
 * marked ROAR_EXPORT (the roar_* API and the interposed libc names) are visible to the traced program.
 * docs/spool-format.md is the contract (the records, the environment); the design notes are in the comments at
 * the top of each file (fd.c: descriptions and locking; hash_thread.c: background hashing and deferred closes;
 * handoff.c: descriptions across exec; spool.c: buffering; proc.c: exec/fork; signals.c: the fatal-signal
 * flush). desc.h holds what fd.c, hash_thread.c and handoff.c share.
 */
#ifndef ROAR_PRELOAD_INTERNAL_H
#define ROAR_PRELOAD_INTERNAL_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <errno.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "roar_blake3.h"

#define ROAR_EXPORT __attribute__((visibility("default")))
#define ROAR_HIDDEN __attribute__((visibility("hidden")))
#define ROAR_LIKELY(x) __builtin_expect(!!(x), 1)
#define ROAR_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define ROAR_TLS __thread __attribute__((tls_model("initial-exec")))

/* Size limits. */
#define ROAR_FD_MAX 65536       /* fds at or above this are counted as fd_overflow, not tracked */
#define ROAR_PATH_MAX 4096      /* longest normalised path we record (bytes, before escaping) */
#define ROAR_TAG_MAX 256        /* longest tag, including the NUL */
#define ROAR_MAX_PREFIXES 64    /* ROAR_IGNORE / ROAR_INCLUDE entries */
#define ROAR_ARGV_MAX 65536     /* bytes of argv written into one X record */

/* ---------------------------------------------------------------------------------------------------------
 * Locks (core.c): a futex mutex (0 free, 1 held, 2 held with waiters) whose uncontended lock and unlock are one
 * atomic instruction each, inline (pthread_mutex_* costs a call and ~30 instructions more per operation on
 * every open, read and close). Not recursive; zero is the unlocked state (a forked child resets with
 * roar_lock_reset). Used for the library's short critical sections; bg_mu (with its condition variables) stays
 * a pthread mutex.
 */
typedef struct {
    int v;
} roar_lock_t;
#define ROAR_LOCK_INIT {0}
void roar_lock_slow(roar_lock_t *l) ROAR_HIDDEN;
void roar_lock_wake(roar_lock_t *l) ROAR_HIDDEN;

/* glibc (2.32+) clears __libc_single_threaded before the first thread is created (any pthread_create, including
 * libc's internal ones: timers, aio) and never sets it again in that process. While it is set no other thread
 * can race with this one, and signal handlers on this thread find the hooks guarded (roar_t_guard): locks and
 * counters need no atomic read-modify-write instructions. Weak: with an older libc it reads as multi-threaded. */
extern char __libc_single_threaded __attribute__((weak));
static inline int roar_single_threaded(void) {
    return &__libc_single_threaded != NULL && __atomic_load_n(&__libc_single_threaded, __ATOMIC_RELAXED);
}

/* *p += n for counters also updated by other threads. */
static inline void roar_add_u64(uint64_t *p, uint64_t n) {
    if (ROAR_LIKELY(roar_single_threaded())) {
        __atomic_store_n(p, __atomic_load_n(p, __ATOMIC_RELAXED) + n, __ATOMIC_RELAXED);
    } else {
        __atomic_fetch_add(p, n, __ATOMIC_RELAXED);
    }
}

/* Single-threaded, the lock word is still set and cleared (a signal handler's roar_trylock sees it held; a thread
 * created inside the critical section waits for it), with plain stores; signal fences keep the critical section
 * between them. */
static inline void roar_lock(roar_lock_t *l) {
    if (ROAR_LIKELY(roar_single_threaded()) && ROAR_LIKELY(__atomic_load_n(&l->v, __ATOMIC_RELAXED) == 0)) {
        __atomic_store_n(&l->v, 1, __ATOMIC_RELAXED);
        __atomic_signal_fence(__ATOMIC_SEQ_CST);
        return;
    }
    int free_ = 0;
    if (ROAR_UNLIKELY(!__atomic_compare_exchange_n(&l->v, &free_, 1, 0, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))) {
        roar_lock_slow(l);
    }
}
/* 0 when taken, non-zero when held by someone (this thread included). */
static inline int roar_trylock(roar_lock_t *l) {
    int free_ = 0;
    return !__atomic_compare_exchange_n(&l->v, &free_, 1, 0, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED);
}
static inline void roar_unlock(roar_lock_t *l) {
    if (ROAR_LIKELY(roar_single_threaded()) && ROAR_LIKELY(__atomic_load_n(&l->v, __ATOMIC_RELAXED) == 1)) {
        __atomic_signal_fence(__ATOMIC_SEQ_CST);
        __atomic_store_n(&l->v, 0, __ATOMIC_RELAXED);
        return;
    }
    if (ROAR_UNLIKELY(__atomic_exchange_n(&l->v, 0, __ATOMIC_RELEASE) == 2)) {
        roar_lock_wake(l);
    }
}
static inline void roar_lock_reset(roar_lock_t *l) {
    l->v = 0;
}

/* ---------------------------------------------------------------------------------------------------------
 * Global state (core.c)
 */
struct roar_prefix {
    const char *path; /* normalised, no trailing slash ("/" is kept as "") */
    size_t len;
};

struct roar_global {
    int enabled;            /* ROAR_SPOOL is set: hooks record */
    volatile int exiting;   /* exit finalisation ran: hooks pass through */
    pid_t pid;
    uint64_t flush_interval_ns;
    char *spool_dir;        /* normalised */
    size_t spool_dir_len;
    char *preload_path;     /* ROAR_PRELOAD, else this library's own path */
    char process_tag[ROAR_TAG_MAX];
    char **roar_env;        /* initial "ROAR_*=..." entries (not ROAR_TAG / ROAR_FDS), NULL-terminated */
    struct roar_prefix ignore[ROAR_MAX_PREFIXES];
    int n_ignore;
    struct roar_prefix include[ROAR_MAX_PREFIXES];
    int n_include;
};
extern struct roar_global roar_g ROAR_HIDDEN;

/* Per-thread state. */
extern ROAR_TLS int roar_t_guard ROAR_HIDDEN;       /* >0 while inside our own bookkeeping */
extern ROAR_TLS int roar_t_tag_set ROAR_HIDDEN;     /* 0: the thread uses roar_g.process_tag */
extern ROAR_TLS char roar_t_tag[ROAR_TAG_MAX] ROAR_HIDDEN;
/* Set when the thread inherited a task tag at pthread_create (proc.c) and has not set one since: it follows the
 * process's task (core.c, roar_set_tag). roar_t_follow_gen is the roar_task_gen it last looked at. */
extern ROAR_TLS int roar_t_follow ROAR_HIDDEN;
extern ROAR_TLS uint32_t roar_t_follow_gen ROAR_HIDDEN;
extern uint32_t roar_task_gen ROAR_HIDDEN;
int roar_is_task_tag(const char *tag) ROAR_HIDDEN; /* ray:... or ray-actor:... */
void roar_follow_task(uint32_t gen) ROAR_HIDDEN;
void roar_tag_thread_end(void) ROAR_HIDDEN;

void roar_init_once(void) ROAR_HIDDEN;
extern volatile int roar_initialised ROAR_HIDDEN;

void roar_count_reentered(void) ROAR_HIDDEN;

/* Runs `stmt` as the library's own bookkeeping: errno is kept for the program, and the hooks it reaches pass
 * through (the re-entry guard is raised). */
#define ROAR_GUARDED(stmt)        \
    do {                          \
        int saved_errno_ = errno; \
        roar_t_guard++;           \
        stmt;                     \
        roar_t_guard--;           \
        errno = saved_errno_;     \
    } while (0)

/* True when a hook should record: library enabled, not re-entered, not exiting. */
static inline int roar_active(void) {
    if (ROAR_UNLIKELY(!roar_initialised)) {
        roar_init_once();
    }
    if (ROAR_UNLIKELY(roar_t_guard != 0)) {
        if (roar_g.enabled) {
            roar_count_reentered();
        }
        return 0;
    }
    return roar_g.enabled && !roar_g.exiting;
}

/* A pool thread a library keeps across tasks (Arrow's) was created by the first task that needed it: its I/O
 * belongs to the task running now, known while one thread at a time holds a task tag (a Ray worker). */
static inline const char *roar_current_tag(void) {
    if (ROAR_UNLIKELY(roar_t_follow)) {
        uint32_t gen = __atomic_load_n(&roar_task_gen, __ATOMIC_ACQUIRE);
        if (gen != roar_t_follow_gen) {
            roar_follow_task(gen);
        }
    }
    return roar_t_tag_set ? roar_t_tag : roar_g.process_tag;
}

uint64_t roar_now_ns(void) ROAR_HIDDEN;

/* ---------------------------------------------------------------------------------------------------------
 * Real libc functions (core.c), resolved on first use with dlsym(RTLD_NEXT) into a slot per function,
 * `real_<name>`; `REAL(name)(args)` calls it.
 *
 * Failing soft: when no later object defines the function (a libc older than the symbol, reached by a program
 * that found our hook by name), the slot gets the function's fallback `fail_<name>` instead, which counts the
 * call (`unresolved` in the C record) and fails it the way the function reports failures: its failure value
 * (-1, NULL, MAP_FAILED, or the error number for pthread_create/posix_spawn) and errno ENOSYS. The program gets an
 * error it can handle instead of being aborted; the library says so on stderr once per symbol.
 *
 *   REAL_DECL(ret, name, (named params), failure value);
 *   REAL_DECL_WITH_FALLBACK(ret, name, (named params)) { body }   for the few without a failure value (void,
 *                                                                   noreturn): the body does what it can
 */
void *roar_real(const char *name, void **slot, void *fallback) ROAR_HIDDEN;
void roar_real_unresolved(void) ROAR_HIDDEN; /* counts the call, sets errno to ENOSYS */

static inline void *roar_real_slot(void **slot, const char *name, void *fallback) {
    void *p = __atomic_load_n(slot, __ATOMIC_ACQUIRE);
    return ROAR_LIKELY(p != NULL) ? p : roar_real(name, slot, fallback);
}
#define REAL(name) ((__typeof__(real_##name))roar_real_slot((void **)&real_##name, #name, (void *)fail_##name))

#define REAL_DECL_WITH_FALLBACK(ret, name, params) \
    static ret(*real_##name) params;               \
    static ret fail_##name params
/* The fallback's parameters are the function's, unused. The slot's declaration comes last: it takes the `;`. */
#define REAL_DECL(ret, name, params, failure)                                                  \
    _Pragma("GCC diagnostic push") _Pragma("GCC diagnostic ignored \"-Wunused-parameter\"") \
    static ret fail_##name params {                                                            \
        roar_real_unresolved();                                                                \
        return failure;                                                                        \
    }                                                                                          \
    _Pragma("GCC diagnostic pop")                                                              \
    static ret(*real_##name) params

/* The library's own long-lived fds (spool file, background-hash readers) are moved out of the way of the
 * program's (shells dup2 onto small numbers: `exec 3>file`): returns the new fd (the old one is closed), or fd. */
int roar_fd_move_high(int fd) ROAR_HIDDEN;

/* The spool fd, -1 when none. The program closing or dup2-ing over it (it cannot know it is ours) makes the
 * library flush to it first and open a new spool file for later records. */
extern volatile int roar_spool_fd ROAR_HIDDEN;
void roar_spool_fd_closing(void) ROAR_HIDDEN;

/* Raw syscalls (never traced, never touch stdio). */
long roar_sys_open(const char *path, int flags, int mode) ROAR_HIDDEN;
long roar_sys_close(int fd) ROAR_HIDDEN;
long roar_sys_write_all(int fd, const void *buf, size_t len) ROAR_HIDDEN;
long roar_sys_readlink(const char *path, char *buf, size_t len) ROAR_HIDDEN;
long roar_sys_fstat(int fd, struct stat *st) ROAR_HIDDEN;
long roar_sys_fcntl(int fd, int cmd, long arg) ROAR_HIDDEN;
long roar_sys_lseek(int fd, long off, int whence) ROAR_HIDDEN;

/* ---------------------------------------------------------------------------------------------------------
 * Coverage counters (core.c). Cumulative per process; written in every C record.
 */
enum roar_counter {
    RC_EVENTS,        /* records written */
    RC_LOST,          /* records that could not be written (spool unavailable) */
    RC_UNTRACKED_FD,  /* I/O on an fd whose file could not be identified */
    RC_ADOPTED,       /* fds first seen at I/O (opened before exec by an untraced parent, or unseen) */
    RC_FD_OVERFLOW,   /* fds >= ROAR_FD_MAX */
    RC_NON_REGULAR,   /* opens of non-regular files (pipes, sockets, devices, dirs) */
    RC_IGNORED,       /* opens under ROAR_IGNORE / the spool */
    RC_REHASH,        /* hashes recomputed from the file at close */
    RC_REHASH_FAILED, /* ... that failed */
    RC_STDIO,         /* descriptions written through stdio (hash recomputed) */
    RC_REENTERED,     /* hooks passed through because of the re-entry guard */
    RC_PATH_TOO_LONG, /* paths longer than ROAR_PATH_MAX */
    RC_TAG_TRUNCATED, /* tags longer than ROAR_TAG_MAX */
    RC_STATIC_EXEC,   /* execs of static ELF binaries (their I/O is invisible) */
    RC_HANDOFF,       /* fds handed over to the new image at exec */
    RC_CLOSE_DEFERRED, /* closes whose digest the background thread finished after close() returned */
    RC_UNRESOLVED,    /* calls of a hook whose libc function is missing: failed (ENOSYS) by its fallback */
    RC_SPOOL_FULL,    /* records not written: the spool's file system was full (spool.c, the reserve) */
    RC_COUNT
};
extern uint64_t roar_counters[RC_COUNT] ROAR_HIDDEN;
extern const char *const roar_counter_names[RC_COUNT] ROAR_HIDDEN;
static inline void roar_count(enum roar_counter c) {
    __atomic_fetch_add(&roar_counters[c], 1, __ATOMIC_RELAXED);
}

/* ---------------------------------------------------------------------------------------------------------
 * Spool (spool.c): record lines, buffer, flush.
 */
struct roar_line {
    char *p;
    size_t len;
    size_t cap;
    int heap;
    char inline_buf[2048];
};
void roar_line_init(struct roar_line *l, char type) ROAR_HIDDEN;
void roar_line_free(struct roar_line *l) ROAR_HIDDEN;
void roar_line_raw(struct roar_line *l, const char *s, size_t n) ROAR_HIDDEN;
void roar_line_field(struct roar_line *l, const char *s, size_t n) ROAR_HIDDEN; /* TAB + escaped */
void roar_line_str(struct roar_line *l, const char *s) ROAR_HIDDEN;               /* TAB + escaped */
void roar_line_plain(struct roar_line *l, const char *s, size_t n) ROAR_HIDDEN;  /* TAB + as is */
void roar_line_u64(struct roar_line *l, uint64_t v) ROAR_HIDDEN;                  /* TAB + decimal */
void roar_line_i64(struct roar_line *l, int64_t v) ROAR_HIDDEN;
/* Appends '\n' and the line to the buffer; flushes per the policy. Frees the line. */
void roar_line_commit(struct roar_line *l) ROAR_HIDDEN;
/* The same, with a CLOCK_REALTIME time the caller already took (for the flush-interval check). */
void roar_line_commit_at(struct roar_line *l, uint64_t now_ns) ROAR_HIDDEN;

/* An F record (see docs/spool-format.md), formatted without the generic field helpers when tag and path need no
 * escaping (the common case); committed with close_ns as the flush-interval time. */
struct roar_file_record {
    const char *tag;
    size_t tag_len;
    uint64_t open_ns, close_ns;
    uint32_t mode; /* DM_* */
    uint64_t bytes_read, bytes_written, dev, ino;
    int64_t size;
    uint64_t mtime_ns;
    const char *hash; /* "-" or "blake3:<hex>" */
    size_t hash_len;
    const char *path;
    size_t path_len;
};
void roar_emit_file(const struct roar_file_record *r) ROAR_HIDDEN;
/* The F mode letters of DM_* bits, NUL-terminated (out: 8 bytes). */
void roar_mode_letters(uint32_t mode, char *out) ROAR_HIDDEN;

void roar_spool_flush(void) ROAR_HIDDEN;             /* write the buffer (+ a C record) now */
void roar_spool_flush_at_exit(void) ROAR_HIDDEN; /* the process is ending: its last flush */
/* Starts one of the library's own threads: detached, `stack` bytes, every signal blocked, created under the guard
 * (not the program's thread: no tag inheritance, not counted as the program's). 0 on success. */
int roar_start_own_thread(void *(*main)(void *), size_t stack) ROAR_HIDDEN;
/* The program started a thread of its own (pthread_create): a flusher thread then costs it nothing more. */
extern int roar_program_has_threads ROAR_HIDDEN;
/* No spool file yet and nothing to write but Z: a flush now would create no file. */
int roar_spool_untouched(void) ROAR_HIDDEN;
void roar_spool_atfork_prepare(void) ROAR_HIDDEN;    /* flush and lock */
void roar_spool_atfork_parent(void) ROAR_HIDDEN;
void roar_spool_atfork_child(void) ROAR_HIDDEN;
void roar_spool_flush_from_signal(void) ROAR_HIDDEN; /* async-signal-safe: skipped when the lock is taken */

/* The fatal-signal flush (signals.c): installed at start, its lock reset in a fork child. */
void roar_signals_init(void) ROAR_HIDDEN;
void roar_signals_atfork_child(void) ROAR_HIDDEN;

/* Convenience emitters. */
void roar_emit_warning(const char *kind, const char *detail) ROAR_HIDDEN;
void roar_emit_path_event(char type, const char *path) ROAR_HIDDEN;                   /* D */
void roar_emit_two_paths(char type, const char *old_path, const char *new_path) ROAR_HIDDEN; /* M, L */
void roar_emit_truncate(const char *path, int64_t length) ROAR_HIDDEN;               /* T */
void roar_emit_pid(pid_t child) ROAR_HIDDEN;                                          /* P */
void roar_emit_exit(void) ROAR_HIDDEN;                                                /* Z */

/* ---------------------------------------------------------------------------------------------------------
 * Paths (path.c)
 */
/* Resolve `path` relative to dirfd (AT_FDCWD or a directory fd) into an absolute, lexically normalised path in
 * `out` (ROAR_PATH_MAX bytes). Returns its length, or -1 (too long / unresolvable). */
long roar_resolve_path(int dirfd, const char *path, char *out) ROAR_HIDDEN;
/* The same, without copying a path that is already absolute and normal: *result is then `path` itself, otherwise
 * `out` (which holds the resolved path). */
long roar_resolve_path_ref(int dirfd, const char *path, char *out, const char **result) ROAR_HIDDEN;
/* Appends the components of `in` to the normalised absolute path out[0..out_len) ("" for the root), resolving
 * "." and ".." lexically; returns the new length (a lone "/" for the root), or -1 when it does not fit. */
long roar_normalise(const char *in, size_t in_len, char *out, size_t out_len, size_t cap) ROAR_HIDDEN;
int roar_path_ignored(const char *path, size_t len) ROAR_HIDDEN;
void roar_prefixes_done(void) ROAR_HIDDEN; /* after roar_g.ignore is final */
void roar_cwd_invalidate(void) ROAR_HIDDEN;
void roar_cwd_atfork_child(void) ROAR_HIDDEN;
void roar_process_exit(void) ROAR_HIDDEN;
int roar_fd_max_seen(void) ROAR_HIDDEN;
long roar_cwd_copy(char *out, size_t cap) ROAR_HIDDEN;
void roar_prefixes_parse(const char *spec, struct roar_prefix *out, int *n) ROAR_HIDDEN;

/* ---------------------------------------------------------------------------------------------------------
 * Open file descriptions (fd.c; the background thread in hash_thread.c, exec in handoff.c)
 */
enum {
    /* mode letters, in F order */
    DM_R = 1u << 0,
    DM_W = 1u << 1,
    DM_A = 1u << 2,
    DM_C = 1u << 3,
    DM_T = 1u << 4,
    DM_M = 1u << 5,
    DM_S = 1u << 6,
};
enum {
    DS_STREAM_OK = 1u << 0,  /* bytes hashed so far are the file's content from offset 0 */
    DS_STDIO = 1u << 1,      /* written through stdio: bytes not seen at the fd level */
    DS_INHERITED = 1u << 2,  /* shared with the parent (fork): record only our own I/O */
    DS_SHARED = 1u << 3,     /* a child shares it (fork/spawn): recompute the hash at close */
    DS_DIR = 1u << 4,        /* a directory: kept for openat(dirfd, ...) only, never recorded */
    DS_CONTENT = 1u << 5,    /* content changed in a way not streamed (ftruncate, copy_file_range, ...) */
    DS_FINAL = 1u << 6,      /* F already written (exec of a close-on-exec fd) */
    DS_ADOPTED = 1u << 7,    /* not opened by this image (inherited stdio): recorded only if used or changed */
    DS_NEED_O = 1u << 8,     /* adopted at start for writing: the O record waits for the first write */
};

struct roar_desc {
    struct roar_desc *next, *prev; /* live list, under the table lock */
    roar_lock_t mu;                 /* serialises writes (and hashing) on this description */
    int refs;                       /* fds + writable shared mappings, under the table lock */
    uint32_t mode;                  /* DM_* */
    uint32_t state;                 /* DS_*, atomic updates */
    uint64_t open_ns;
    uint64_t bytes_read;            /* atomic */
    uint64_t bytes_written;         /* atomic */
    uint64_t stream_len;            /* under mu */
    uint64_t dev, ino;
    int64_t size0;                  /* fstat at open */
    uint64_t mtime0;
    roar_blake3_hasher *hasher;     /* under mu (inline) or hash_mu (background); allocated on first write */
    /* Background hashing (large sequential writes): the writer only advances stream_len; a library thread
     * reads the written bytes back through `hfd` (a private read-only fd) and hashes them. */
    roar_lock_t hash_mu;
    int bg;                         /* background mode (set under mu, never cleared while live) */
    int hfd;                        /* private fd for reading back, -1 */
    int queued;                     /* on the background queue (under the queue lock) */
    uint64_t hashed_len;            /* bytes in hasher (under hash_mu in background mode) */
    /* A deferred close (hash_thread.c): the program closed it, the thread finishes the hash and writes the F
     * record of the version taken at close. */
    int closed;
    uint64_t close_ns;
    int64_t final_size;
    uint64_t final_mtime;
    int spare_class;                /* allocated with the size of the spare kept for reuse (fd.c) */
    char *tag;                      /* tag of the opening thread (points into the allocation) */
    size_t tag_len;
    size_t path_len;
    char path[];                    /* path, NUL, tag, NUL */
};

#define ROAR_D_NONREG ((struct roar_desc *)1)  /* pipe, socket, device: pass through */
#define ROAR_D_IGNORED ((struct roar_desc *)2) /* ignored path: pass through */
static inline int roar_is_desc(const struct roar_desc *d) {
    return (uintptr_t)d > 2;
}

extern struct roar_desc *roar_fd_table[ROAR_FD_MAX] ROAR_HIDDEN;
extern roar_lock_t roar_table_mu ROAR_HIDDEN;

static inline struct roar_desc *roar_fd_peek(int fd) {
    return __atomic_load_n(&roar_fd_table[fd], __ATOMIC_ACQUIRE);
}

/* Open bookkeeping: after a successful open of `path` (normalised, or NULL when ignored) as fd. */
void roar_fd_opened(int fd, const char *path, size_t path_len, int flags, int ignored) ROAR_HIDDEN;
/* Sets a sentinel for fd. */
void roar_fd_mark(int fd, struct roar_desc *sentinel) ROAR_HIDDEN;
/* The description of fd for I/O: adopts an unknown fd (fstat + /proc/self/fd). NULL when not tracked. With
 * `lock_mu`, returns with d->mu locked (for writes); otherwise the caller must only do atomic updates while
 * holding the table lock (see roar_fd_count_read). */
struct roar_desc *roar_fd_lock_for_write(int fd) ROAR_HIDDEN;
void roar_fd_unlock_write(struct roar_desc *d) ROAR_HIDDEN;
void roar_fd_count_read(int fd, uint64_t n, int moves_offset) ROAR_HIDDEN;
void roar_fd_count_write_unstreamed(int fd, uint64_t n, uint32_t extra_state) ROAR_HIDDEN;
void roar_fd_stream(struct roar_desc *d, int fd, const void *buf, size_t n) ROAR_HIDDEN; /* under d->mu */
void roar_fd_adopt_if_unknown(int fd) ROAR_HIDDEN;
/* At start: the standard fds a parent opened on regular files (`cmd > out`). */
void roar_fd_adopt_std(void) ROAR_HIDDEN;
/* Before an fd goes away (close, dup2 onto it, fclose). Finalises the description when it was the last
 * reference. Call before the real close: the fd must still be open. */
void roar_fd_closing(int fd) ROAR_HIDDEN;
/* close(): begin before the real close, end right after it (a large written file's digest may be finished in
 * the background); settle waits for those digests (exit, exec, roar_stop_recording). end and settle are in
 * hash_thread.c. */
void roar_fd_close_begin(int fd) ROAR_HIDDEN;
void roar_fd_close_end(void) ROAR_HIDDEN;
void roar_fd_settle(void) ROAR_HIDDEN;
void roar_fd_dup(int oldfd, int newfd) ROAR_HIDDEN;
void roar_fd_seeked(int fd, int64_t result) ROAR_HIDDEN;
void roar_fd_truncated(int fd, int64_t length) ROAR_HIDDEN;
void roar_fd_mapped(void *addr, size_t len, int fd) ROAR_HIDDEN;
void roar_fd_unmapped(void *addr, size_t len) ROAR_HIDDEN;
extern int roar_n_maps ROAR_HIDDEN;
/* Directory path of a tracked directory fd, copied into out; length or -1. */
long roar_fd_dir_path(int fd, char *out, size_t cap) ROAR_HIDDEN;

/* Process events. */
void roar_fd_atfork_prepare(void) ROAR_HIDDEN;
void roar_fd_atfork_parent(void) ROAR_HIDDEN;
void roar_fd_atfork_child(void) ROAR_HIDDEN;
void roar_fd_mark_shared_with_child(void) ROAR_HIDDEN;
/* Before exec (handoff.c): finalise close-on-exec descriptions (when the exec is expected to succeed) and encode
 * the descriptions the new image inherits. Returns a malloc'd "ROAR_FDS=..." string or NULL. */
char *roar_fd_handoff(int finalise_cloexec, int as_inherited) ROAR_HIDDEN;
/* In the new image (constructor): adopt the descriptions described by ROAR_FDS. */
void roar_fd_adopt_handoff(const char *spec) ROAR_HIDDEN;
/* At exit: finalise every live description. */
void roar_fd_finalise_all(void) ROAR_HIDDEN;

#endif
