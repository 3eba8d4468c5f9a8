/*
 * Process-wide state of the preload library: initialisation from the environment, real-symbol resolution,
 * raw syscalls, coverage counters, attribution tags and the exported roar_* API.
 */
#include "internal.h"

#include <dlfcn.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/futex.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

struct roar_global roar_g;
volatile int roar_initialised;
ROAR_TLS int roar_t_guard;
ROAR_TLS int roar_t_tag_set;
ROAR_TLS char roar_t_tag[ROAR_TAG_MAX];
ROAR_TLS int roar_t_follow;
ROAR_TLS uint32_t roar_t_follow_gen;

uint64_t roar_counters[RC_COUNT];
const char *const roar_counter_names[RC_COUNT] = {
    [RC_EVENTS] = "events",
    [RC_LOST] = "lost",
    [RC_UNTRACKED_FD] = "untracked_fd",
    [RC_ADOPTED] = "adopted",
    [RC_FD_OVERFLOW] = "fd_overflow",
    [RC_NON_REGULAR] = "non_regular",
    [RC_IGNORED] = "ignored",
    [RC_REHASH] = "rehash",
    [RC_REHASH_FAILED] = "rehash_failed",
    [RC_STDIO] = "stdio",
    [RC_REENTERED] = "reentered",
    [RC_PATH_TOO_LONG] = "path_too_long",
    [RC_TAG_TRUNCATED] = "tag_truncated",
    [RC_STATIC_EXEC] = "static_exec",
    [RC_HANDOFF] = "handoff",
    [RC_CLOSE_DEFERRED] = "close_deferred",
    [RC_UNRESOLVED] = "unresolved",
    [RC_SPOOL_FULL] = "spool_full",
};

extern char **environ;

/* ---------------------------------------------------------------------------------------------------------
 * Raw syscalls
 */
long roar_sys_open(const char *path, int flags, int mode) {
    long r = syscall(SYS_openat, AT_FDCWD, path, flags, mode);
    return r < 0 ? -errno : r;
}

long roar_sys_close(int fd) {
    return syscall(SYS_close, fd);
}

long roar_sys_write_all(int fd, const void *buf, size_t len) {
    const char *p = buf;
    while (len > 0) {
        long n = syscall(SYS_write, fd, p, len);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            return -errno;
        }
        if (n == 0) {
            return -EIO;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

int roar_fd_move_high(int fd) {
    static int base;
    if (base == 0) {
        struct rlimit rl;
        long lim = syscall(SYS_prlimit64, 0, RLIMIT_NOFILE, NULL, &rl) == 0 ? (long)rl.rlim_cur : 1024;
        if (lim > 1024) {
            lim = 1024; /* higher would grow every process's fd table */
        }
        base = lim > 128 ? (int)lim - 48 : -1;
    }
    if (base < 0 || fd >= base) {
        return fd;
    }
    long r = syscall(SYS_fcntl, fd, F_DUPFD_CLOEXEC, base);
    if (r < 0) {
        return fd;
    }
    syscall(SYS_close, fd);
    return (int)r;
}

long roar_sys_readlink(const char *path, char *buf, size_t len) {
    long r = syscall(SYS_readlinkat, AT_FDCWD, path, buf, len);
    return r < 0 ? -errno : r;
}

long roar_sys_fstat(int fd, struct stat *st) {
    long r = syscall(SYS_fstat, fd, st);
    return r < 0 ? -errno : 0;
}

long roar_sys_fcntl(int fd, int cmd, long arg) {
    long r = syscall(SYS_fcntl, fd, cmd, arg);
    return r < 0 ? -errno : r;
}

long roar_sys_lseek(int fd, long off, int whence) {
    long r = syscall(SYS_lseek, fd, off, whence);
    return r < 0 ? -errno : r;
}

/* ---------------------------------------------------------------------------------------------------------
 * Lock slow paths (see internal.h). errno is kept: callers are often between a real call and its return.
 */
void roar_lock_slow(roar_lock_t *l) {
    int saved = errno;
    for (int spin = 0; spin < 100; spin++) {
        int free_ = 0;
        if (__atomic_load_n(&l->v, __ATOMIC_RELAXED) == 0 &&
            __atomic_compare_exchange_n(&l->v, &free_, 1, 0, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED)) {
            errno = saved;
            return;
        }
#if defined(__x86_64__) || defined(__i386__)
        __builtin_ia32_pause();
#endif
    }
    while (__atomic_exchange_n(&l->v, 2, __ATOMIC_ACQUIRE) != 0) {
        syscall(SYS_futex, &l->v, FUTEX_WAIT_PRIVATE, 2, NULL, NULL, 0);
    }
    errno = saved;
}

void roar_lock_wake(roar_lock_t *l) {
    int saved = errno;
    syscall(SYS_futex, &l->v, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
    errno = saved;
}

void roar_count_reentered(void) {
    roar_count(RC_REENTERED);
}

int roar_start_own_thread(void *(*main)(void *), size_t stack) {
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, stack);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old); /* the thread starts with every signal blocked */
    pthread_t thread;
    roar_t_guard++;
    int r = pthread_create(&thread, &attr, main, NULL);
    roar_t_guard--;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    pthread_attr_destroy(&attr);
    return r;
}

uint64_t roar_now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ---------------------------------------------------------------------------------------------------------
 * Real symbols
 */
void *roar_real(const char *name, void **slot, void *fallback) {
    void *p = dlsym(RTLD_NEXT, name);
    if (p == NULL) {
        /* Not in any later object: a libc without this symbol (version). Said once per symbol (a race may say it
         * twice); each call is counted by the fallback. */
        static const char head[] = "libroar_preload: ";
        static const char tail[] = ": not in libc; its calls fail (ENOSYS), counted as unresolved\n";
        char msg[sizeof head + 64 + sizeof tail];
        size_t n = strnlen(name, 64);
        memcpy(msg, head, sizeof head - 1);
        memcpy(msg + sizeof head - 1, name, n);
        memcpy(msg + sizeof head - 1 + n, tail, sizeof tail - 1);
        syscall(SYS_write, 2, msg, sizeof head - 1 + n + sizeof tail - 1);
        p = fallback;
    }
    __atomic_store_n(slot, p, __ATOMIC_RELEASE);
    return p;
}

void roar_real_unresolved(void) {
    roar_count(RC_UNRESOLVED);
    errno = ENOSYS;
}

/* ---------------------------------------------------------------------------------------------------------
 * Tags
 */
static void tag_copy(char *dst, const char *src) {
    size_t n = src ? strlen(src) : 0;
    if (n >= ROAR_TAG_MAX) {
        n = ROAR_TAG_MAX - 1;
        roar_count(RC_TAG_TRUNCATED);
    }
    memcpy(dst, src ? src : "", n);
    dst[n] = 0;
}

/* Following the process's task (internal.h, roar_current_tag). Explicit holders are the threads whose tag was set
 * by roar_set_tag to a task tag; they are counted under task_mu, taken only at task boundaries. task_tag is the
 * tag followers take: the one every holder holds (one task at a time, or one actor's tag under per-actor
 * attribution), kept when that task ends; "" (keep your own) once holders differ, until a task starts alone.
 * Pool threads read it without the lock, through roar_task_gen, a seqlock (odd while written), so their hot path
 * is one load. */
static roar_lock_t task_mu = ROAR_LOCK_INIT;
static int task_holders;                     /* under task_mu */
static ROAR_TLS int t_holder;                /* this thread is counted in task_holders */
static ROAR_TLS int t_in_set_tag;            /* a signal handler calling roar_set_tag inside ours only sets */
static uint64_t task_tag[ROAR_TAG_MAX / 8];  /* words: read with relaxed atomic loads, not memcpy */
uint32_t roar_task_gen;

int roar_is_task_tag(const char *tag) {
    return strncmp(tag, "ray:", 4) == 0 || strncmp(tag, "ray-actor:", 10) == 0;
}

/* Under task_mu. `alone`: the only holder; otherwise the tag stands only if every other holder holds it too. */
static void task_publish(const char *tag, int alone) {
    uint64_t words[ROAR_TAG_MAX / 8] = {0};
    memcpy(words, tag, strnlen(tag, ROAR_TAG_MAX - 1));
    if (!alone) {
        for (size_t i = 0; i < ROAR_TAG_MAX / 8; i++) {
            if (__atomic_load_n(&task_tag[i], __ATOMIC_RELAXED) != words[i]) {
                memset(words, 0, sizeof words);
                break;
            }
        }
    }
    uint32_t gen = __atomic_load_n(&roar_task_gen, __ATOMIC_RELAXED);
    __atomic_store_n(&roar_task_gen, gen + 1, __ATOMIC_RELAXED);
    __atomic_thread_fence(__ATOMIC_RELEASE);
    for (size_t i = 0; i < ROAR_TAG_MAX / 8; i++) {
        __atomic_store_n(&task_tag[i], words[i], __ATOMIC_RELAXED);
    }
    __atomic_store_n(&roar_task_gen, gen + 2, __ATOMIC_RELEASE);
}

/* Lock-free, so safe in a signal handler and in a fork child: a read that races a publication keeps the thread's
 * tag this once (the next I/O looks again). */
void roar_follow_task(uint32_t gen) {
    if (gen & 1) {
        return;
    }
    uint64_t words[ROAR_TAG_MAX / 8];
    for (size_t i = 0; i < ROAR_TAG_MAX / 8; i++) {
        words[i] = __atomic_load_n(&task_tag[i], __ATOMIC_RELAXED);
    }
    __atomic_thread_fence(__ATOMIC_ACQUIRE);
    if (__atomic_load_n(&roar_task_gen, __ATOMIC_RELAXED) != gen) {
        return;
    }
    roar_t_follow_gen = gen;
    if (words[0] != 0) {
        memcpy(roar_t_tag, words, ROAR_TAG_MAX);
    }
}

static void task_hold(int task) {
    roar_lock(&task_mu);
    task_holders += task - t_holder;
    t_holder = task;
    if (task) {
        task_publish(roar_t_tag, task_holders == 1);
    }
    roar_unlock(&task_mu);
}

ROAR_EXPORT void roar_set_tag(const char *tag) {
    int saved = errno;
    roar_t_follow = 0; /* first: a signal handler on this thread then never reads task_tag while we write it */
    __atomic_signal_fence(__ATOMIC_SEQ_CST);
    tag_copy(roar_t_tag, tag);
    roar_t_tag_set = 1;
    int task = roar_is_task_tag(roar_t_tag);
    if ((task || t_holder) && !t_in_set_tag) {
        t_in_set_tag = 1;
        __atomic_signal_fence(__ATOMIC_SEQ_CST);
        task_hold(task);
        __atomic_signal_fence(__ATOMIC_SEQ_CST);
        t_in_set_tag = 0;
    }
    errno = saved;
}

/* A holder's thread returned: it holds no task any more. (One ended by pthread_exit stays counted: followers then
 * keep their own tags, as when tasks overlap.) */
void roar_tag_thread_end(void) {
    if (t_holder) {
        int saved = errno;
        task_hold(0);
        errno = saved;
    }
}

/* A fork child has only the forking thread: it is the only possible holder. A publication cut by the fork (another
 * thread's) is dropped. */
static void tag_atfork_child(void) {
    roar_lock_reset(&task_mu);
    task_holders = t_holder;
    t_in_set_tag = 0;
    if (roar_task_gen & 1) {
        memset(task_tag, 0, sizeof task_tag);
        roar_task_gen++;
    }
}

ROAR_EXPORT const char *roar_get_tag(void) {
    if (ROAR_UNLIKELY(!roar_initialised)) {
        roar_init_once();
    }
    return roar_current_tag();
}

ROAR_EXPORT void roar_emit(const char *json) {
    int saved = errno;
    if (roar_active() && json != NULL) {
        roar_t_guard++;
        struct roar_line l;
        roar_line_init(&l, 'E');
        roar_line_str(&l, roar_current_tag());
        roar_line_u64(&l, roar_now_ns());
        roar_line_str(&l, json);
        roar_line_commit(&l);
        roar_t_guard--;
    }
    errno = saved;
}

ROAR_EXPORT void roar_flush(void) {
    int saved = errno;
    if (roar_active()) {
        roar_t_guard++;
        roar_spool_flush();
        roar_t_guard--;
    }
    errno = saved;
}

/* roar's own processes (the node agents of host-submit) opt out: what they read and write is
 * roar's bookkeeping, and recording it would feed their next batch. Flushes what is buffered, then
 * every hook passes through for the rest of this process image. */
ROAR_EXPORT void roar_stop_recording(void) {
    int saved = errno;
    if (ROAR_UNLIKELY(!roar_initialised)) {
        roar_init_once();
    }
    if (roar_active()) {
        roar_t_guard++;
        roar_fd_settle(); /* digests still being finished in the background are the program's */
        roar_t_guard--;
    }
    roar_flush();
    roar_g.enabled = 0;
    errno = saved;
}

/* ---------------------------------------------------------------------------------------------------------
 * Initialisation
 */
static void atfork_prepare(void) {
    if (!roar_g.enabled) {
        return;
    }
    roar_t_guard++;
    roar_fd_atfork_prepare();    /* table lock, then every description */
    roar_spool_atfork_prepare(); /* flushes, then holds the spool lock */
}

static void atfork_parent(void) {
    if (!roar_g.enabled) {
        return;
    }
    roar_spool_atfork_parent();
    roar_fd_atfork_parent();
    roar_t_guard--;
}

/* In the child of fork(): drop the parent's buffer, mark its descriptions inherited, start a new spool file. */
static void became_child(void) {
    roar_g.pid = (pid_t)syscall(SYS_getpid);
    tag_atfork_child();
    roar_spool_atfork_child();
    roar_fd_atfork_child();
    roar_signals_atfork_child();
}

static void atfork_child(void) {
    if (!roar_g.enabled) {
        return;
    }
    became_child();
    roar_t_guard--;
}

static char *dup_env_value(const char *name) {
    const char *v = getenv(name);
    return (v && *v) ? strdup(v) : NULL;
}

static void collect_roar_env(void) {
    size_t n = 0;
    for (char **e = environ; e && *e; e++) {
        if (strncmp(*e, "ROAR_", 5) == 0) {
            n++;
        }
    }
    char **out = calloc(n + 1, sizeof *out);
    if (out == NULL) {
        return;
    }
    size_t k = 0;
    for (char **e = environ; e && *e && k < n; e++) {
        if (strncmp(*e, "ROAR_", 5) != 0 || strncmp(*e, "ROAR_TAG=", 9) == 0 || strncmp(*e, "ROAR_FDS=", 9) == 0 ||
            strncmp(*e, "ROAR_EXEC=", 10) == 0) {
            continue;
        }
        out[k] = strdup(*e);
        if (out[k]) {
            k++;
        }
    }
    out[k] = NULL;
    roar_g.roar_env = out;
}

void roar_init_once(void) {
    static int in_progress;
    if (roar_initialised || __atomic_exchange_n(&in_progress, 1, __ATOMIC_ACQ_REL)) {
        return; /* done, or re-entered from within initialisation (hooks pass through meanwhile) */
    }
    int saved = errno;
    roar_t_guard++;

    roar_g.pid = (pid_t)syscall(SYS_getpid);
    const char *spool = getenv("ROAR_SPOOL");
    if (spool != NULL && *spool != 0) {
        char norm[ROAR_PATH_MAX];
        long n = roar_resolve_path(AT_FDCWD, spool, norm);
        if (n > 0) {
            roar_g.spool_dir = strndup(norm, (size_t)n);
            roar_g.spool_dir_len = (size_t)n;
        }
    }
    tag_copy(roar_g.process_tag, getenv("ROAR_TAG"));

    roar_g.preload_path = dup_env_value("ROAR_PRELOAD");
    if (roar_g.preload_path == NULL) {
        Dl_info info;
        if (dladdr((void *)roar_init_once, &info) && info.dli_fname && info.dli_fname[0]) {
            roar_g.preload_path = strdup(info.dli_fname);
        }
    }
    const char *ms = getenv("ROAR_FLUSH_MS");
    long flush_ms = (ms && *ms) ? strtol(ms, NULL, 10) : 1000;
    if (flush_ms < 0) {
        flush_ms = 1000;
    }
    roar_g.flush_interval_ns = (uint64_t)flush_ms * 1000000u;

    /* Pseudo-filesystems are never lineage. */
    static const char *const builtin[] = {"/proc", "/sys", "/dev"};
    for (size_t i = 0; i < sizeof builtin / sizeof builtin[0]; i++) {
        roar_g.ignore[roar_g.n_ignore].path = builtin[i];
        roar_g.ignore[roar_g.n_ignore].len = strlen(builtin[i]);
        roar_g.n_ignore++;
    }
    roar_prefixes_parse(getenv("ROAR_IGNORE"), roar_g.ignore, &roar_g.n_ignore);
    roar_prefixes_parse(getenv("ROAR_INCLUDE"), roar_g.include, &roar_g.n_include);
    roar_prefixes_done();

    collect_roar_env();

    const char *fds = getenv("ROAR_FDS");
    const char *carried = getenv("ROAR_EXEC");
    if (roar_g.spool_dir != NULL) {
        pthread_atfork(atfork_prepare, atfork_parent, atfork_child);
        if (carried != NULL && carried[0] == 'X' && carried[1] == '\t') {
            /* The X of the exec that started this image, written by the previous image's pid (see proc.c) */
            struct roar_line l;
            roar_line_init(&l, 'X');
            roar_line_raw(&l, carried + 1, strlen(carried + 1));
            roar_line_commit(&l);
        }
        if (fds != NULL) {
            roar_fd_adopt_handoff(fds);
        }
        roar_fd_adopt_std();
        roar_g.enabled = 1;
        roar_signals_init();
    }
    if (fds != NULL) {
        unsetenv("ROAR_FDS"); /* meant for this image only; never leaks to children we do not see */
    }
    if (carried != NULL) {
        unsetenv("ROAR_EXEC");
    }

    roar_t_guard--;
    __atomic_store_n(&roar_initialised, 1, __ATOMIC_RELEASE);
    errno = saved;
}

__attribute__((constructor)) static void roar_constructor(void) {
    roar_init_once();
}

/* Exit: flush stdio buffers that hold bytes for tracked files, finalise open descriptions, write Z. Runs from the
 * destructor (normal exit, after atexit handlers) and from the _exit hooks. */
void roar_process_exit(void) {
    int saved = errno;
    if (!roar_g.enabled || roar_g.exiting) {
        return;
    }
    if ((pid_t)syscall(SYS_getpid) != roar_g.pid) {
        /* A child made by a raw clone() (no atfork handlers ran), possibly sharing the parent's memory
         * (CLONE_VM): touching the state would corrupt the parent's. Its records are not written. */
        return;
    }
    roar_t_guard++;
    roar_fd_finalise_all();
    roar_fd_settle();
    roar_emit_exit();
    roar_spool_flush_at_exit();
    roar_g.exiting = 1;
    roar_t_guard--;
    errno = saved;
}

__attribute__((destructor)) static void roar_destructor(void) {
    roar_process_exit();
}
