/*
 * Process hooks: fork/vfork, the exec family, posix_spawn, system, popen, pthread_create and _exit (the
 * fatal-signal flush is in signals.c).
 *
 * Before an exec the library writes X, checks the target for PT_INTERP (a static binary cannot be traced: W
 * static-exec), finalises close-on-exec descriptions, hands the others to the new image in ROAR_FDS, rebuilds
 * the environment (LD_PRELOAD, ROAR_TAG = this thread's tag, the initial ROAR_* variables) and flushes.
 */
#include "internal.h"

#include <elf.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include "../common/preload_list.h"

extern char **environ;

/* ---------------------------------------------------------------------------------------------------------
 * Static binaries
 */
static long pread_raw(int fd, void *buf, size_t n, off_t off) {
    return syscall(SYS_pread64, fd, buf, n, off);
}

/* Whether an executable ELF of class `bits` (its header at `head`) has a PT_INTERP program header: 1 or 0, -1 when
 * it is not an executable or its program headers cannot be read. */
#define HAS_INTERP(bits)                                                                                    \
    static int has_interp_##bits(int fd, const unsigned char *head) {                                       \
        Elf##bits##_Ehdr eh;                                                                                \
        memcpy(&eh, head, sizeof eh);                                                                       \
        if (!(eh.e_type == ET_EXEC || eh.e_type == ET_DYN) || eh.e_phentsize != sizeof(Elf##bits##_Phdr) || \
            eh.e_phnum >= 256) {                                                                            \
            return -1;                                                                                      \
        }                                                                                                   \
        Elf##bits##_Phdr ph[64];                                                                            \
        size_t cnt = eh.e_phnum < 64 ? eh.e_phnum : 64;                                                     \
        if (pread_raw(fd, ph, cnt * sizeof ph[0], (off_t)eh.e_phoff) != (long)(cnt * sizeof ph[0])) {       \
            return -1;                                                                                      \
        }                                                                                                   \
        for (size_t i = 0; i < cnt; i++) {                                                                  \
            if (ph[i].p_type == PT_INTERP) {                                                                \
                return 1;                                                                                   \
            }                                                                                               \
        }                                                                                                   \
        return 0;                                                                                           \
    }
HAS_INTERP(32)
HAS_INTERP(64)

/* 1: an ELF without PT_INTERP; 0: dynamic, not ELF or unreadable. Follows one "#!" interpreter. *traceable is set
 * to 1 when the image that will run is sure to load this library: a dynamic ELF of our class, neither set-id nor
 * with file capabilities (secure-execution mode restricts LD_PRELOAD). */
static int is_static_elf(const char *path, int depth, int *traceable) {
    *traceable = 0;
    int fd = (int)roar_sys_open(path, O_RDONLY | O_CLOEXEC, 0);
    if (fd < 0) {
        return 0;
    }
    int result = 0;
    unsigned char head[256];
    long n = pread_raw(fd, head, sizeof head, 0);
    if (n >= 2 && head[0] == '#' && head[1] == '!' && depth == 0) {
        size_t i = 2;
        while (i < (size_t)n && (head[i] == ' ' || head[i] == '\t')) {
            i++;
        }
        size_t j = i;
        while (j < (size_t)n && head[j] != ' ' && head[j] != '\t' && head[j] != '\n') {
            j++;
        }
        if (j > i && j < (size_t)n) {
            char interp[256];
            memcpy(interp, head + i, j - i);
            interp[j - i] = 0;
            result = is_static_elf(interp, 1, traceable);
        }
    } else if (n >= (long)sizeof(Elf32_Ehdr) && memcmp(head, ELFMAG, SELFMAG) == 0) {
        int interp = -1;
        if (head[EI_CLASS] == ELFCLASS64 && n >= (long)sizeof(Elf64_Ehdr)) {
            interp = has_interp_64(fd, head);
        } else if (head[EI_CLASS] == ELFCLASS32) {
            interp = has_interp_32(fd, head);
        }
        int ok = interp >= 0, found = interp == 1;
        result = ok && !found;
        int native_class = head[EI_CLASS] == (sizeof(void *) == 8 ? ELFCLASS64 : ELFCLASS32);
        if (ok && found && native_class) {
            struct stat st;
            *traceable = roar_sys_fstat(fd, &st) == 0 && !(st.st_mode & (S_ISUID | S_ISGID)) &&
                         syscall(SYS_fgetxattr, fd, "security.capability", NULL, 0) < 0;
        }
    }
    roar_sys_close(fd);
    return result;
}

/* ---------------------------------------------------------------------------------------------------------
 * Program lookup for X records
 */
static long resolve_program(const char *file, int search, char *out) {
    if (file == NULL || file[0] == 0) {
        return -1;
    }
    if (!search || strchr(file, '/') != NULL) {
        return roar_resolve_path(AT_FDCWD, file, out);
    }
    const char *path = getenv("PATH");
    if (path == NULL) {
        path = "/bin:/usr/bin";
    }
    size_t fl = strlen(file);
    char cand[ROAR_PATH_MAX];
    while (1) {
        const char *e = strchr(path, ':');
        size_t dl = e ? (size_t)(e - path) : strlen(path);
        if (dl + fl + 2 < sizeof cand) {
            if (dl == 0) {
                cand[0] = '.';
                dl = 1;
            } else {
                memcpy(cand, path, dl);
            }
            cand[dl] = '/';
            memcpy(cand + dl + 1, file, fl + 1);
            if (access(cand, X_OK) == 0) {
                return roar_resolve_path(AT_FDCWD, cand, out);
            }
        }
        if (!e) {
            break;
        }
        path = e + 1;
    }
    return -1;
}

/* ---------------------------------------------------------------------------------------------------------
 * The environment of the new image
 */
struct new_env {
    char **envp;
    char *owned[5];
    int n_owned;
    int x_carried;        /* x goes to the new image in ROAR_EXEC: written here only if the exec fails */
    struct roar_line x;
};

static void new_env_free(struct new_env *ne) {
    for (int i = 0; i < ne->n_owned; i++) {
        free(ne->owned[i]);
    }
    free(ne->envp);
    ne->envp = NULL;
    ne->n_owned = 0;
}

static char *concat4(const char *a, const char *b, const char *c, const char *d) {
    size_t la = strlen(a), lb = strlen(b), lc = strlen(c), ld = strlen(d);
    char *s = malloc(la + lb + lc + ld + 1);
    if (s) {
        memcpy(s, a, la);
        memcpy(s + la, b, lb);
        memcpy(s + la + lb, c, lc);
        memcpy(s + la + lb + lc, d, ld + 1);
    }
    return s;
}

static int env_has_key(char *const *envp, const char *kv) {
    const char *eq = strchr(kv, '=');
    size_t kl = eq ? (size_t)(eq - kv) + 1 : strlen(kv);
    for (char *const *e = envp; e && *e; e++) {
        if (strncmp(*e, kv, kl) == 0) {
            return 1;
        }
    }
    return 0;
}

/* envp as the program passed it, plus what tracing the new image needs. `handoff` and `carry` are consumed. */
static int new_env_build(struct new_env *ne, char *const *envp, char *handoff, char *carry) {
    size_t n = 0, r = 0;
    for (char *const *e = envp; e && *e; e++) {
        n++;
    }
    for (char **e = roar_g.roar_env; e && *e; e++) {
        r++;
    }
    ne->envp = malloc((n + r + 5) * sizeof(char *));
    if (ne->envp == NULL) {
        free(handoff);
        free(carry);
        return -1;
    }
    size_t k = 0;
    const char *old_preload = NULL;
    for (char *const *e = envp; e && *e; e++) {
        if (strncmp(*e, "LD_PRELOAD=", 11) == 0) {
            old_preload = *e + 11;
            continue;
        }
        if (strncmp(*e, "ROAR_TAG=", 9) == 0 || strncmp(*e, "ROAR_FDS=", 9) == 0 ||
            strncmp(*e, "ROAR_EXEC=", 10) == 0) {
            continue;
        }
        ne->envp[k++] = *e;
    }
    const char *lib = roar_g.preload_path;
    if (lib != NULL && (old_preload == NULL || !roar_list_has_token(old_preload, lib))) {
        char *s = (old_preload && *old_preload) ? concat4("LD_PRELOAD=", lib, ":", old_preload)
                                                : concat4("LD_PRELOAD=", lib, "", "");
        if (s) {
            ne->owned[ne->n_owned++] = s;
            ne->envp[k++] = s;
        }
    } else if (old_preload != NULL) {
        ne->envp[k++] = (char *)(old_preload - 11);
    }
    const char *tag = roar_current_tag();
    if (tag[0]) {
        char *s = concat4("ROAR_TAG=", tag, "", "");
        if (s) {
            ne->owned[ne->n_owned++] = s;
            ne->envp[k++] = s;
        }
    }
    if (handoff) {
        ne->owned[ne->n_owned++] = handoff;
        ne->envp[k++] = handoff;
    }
    if (carry) {
        ne->owned[ne->n_owned++] = carry;
        ne->envp[k++] = carry;
    }
    for (char **e = roar_g.roar_env; e && *e; e++) {
        if (!env_has_key(envp, *e)) {
            ne->envp[k++] = *e;
        }
    }
    ne->envp[k] = NULL;
    return 0;
}

/* Longest X line carried in ROAR_EXEC (one environment string may hold 128 KiB; argv is passed as well). */
#define ROAR_EXEC_CARRY_MAX 16384

/* X record, static check, descriptions, environment, flush. `spawn`: the caller keeps running (posix_spawn,
 * system); otherwise this image is replaced when the call succeeds.
 *
 * A process that has written nothing yet (typically a fork/vfork child between fork and exec) would create a
 * spool file for the X alone: instead the X line goes to the new image in ROAR_EXEC, which writes it as its
 * first record after H; when the exec fails, exec_failed() writes it here. Only when the new image is sure to
 * load the library (dynamic ELF of our class, not set-id). */
static int exec_prepare(const char *resolved, long rlen, char *const argv[], char *const *envp, int spawn,
                        struct new_env *ne) {
    memset(ne, 0, offsetof(struct new_env, x));
    if (!spawn) {
        roar_fd_settle(); /* the hashing thread does not survive the exec */
    }
    char *carry = NULL;
    /* Only an exec that can succeed is recorded (execvp-style callers try every PATH entry). */
    int likely = rlen >= 0 && access(resolved, X_OK) == 0;
    if (likely) {
        struct roar_line *lp = &ne->x;
        roar_line_init(lp, 'X');
        roar_line_str(lp, roar_current_tag());
        roar_line_u64(lp, roar_now_ns());
        roar_line_field(lp, resolved, (size_t)rlen);
        size_t budget = ROAR_ARGV_MAX;
        int truncated = 0;
        for (char *const *a = argv; a && *a; a++) {
            size_t al = strlen(*a);
            if (al > budget) {
                truncated = 1;
                break;
            }
            budget -= al;
            roar_line_field(lp, *a, al);
        }
        int traceable;
        int is_static = is_static_elf(resolved, 0, &traceable);
        if (!spawn && !truncated && traceable && lp->len <= ROAR_EXEC_CARRY_MAX && roar_spool_untouched()) {
            carry = malloc(10 + lp->len + 1);
            if (carry != NULL) {
                memcpy(carry, "ROAR_EXEC=", 10);
                memcpy(carry + 10, lp->p, lp->len);
                carry[10 + lp->len] = 0;
            }
        }
        if (carry != NULL) {
            ne->x_carried = 1;
        } else {
            roar_line_commit(lp);
        }
        if (truncated) {
            roar_emit_warning("argv-truncated", resolved);
        }
        if (is_static) {
            roar_count(RC_STATIC_EXEC);
            roar_emit_warning("static-exec", resolved);
        }
    }
    char *handoff = roar_fd_handoff(!spawn && likely, spawn);
    int rc = new_env_build(ne, envp, handoff, carry);
    if (rc != 0 && ne->x_carried) {
        ne->x_carried = 0;
        roar_line_commit(&ne->x);
    }
    roar_spool_flush();
    return rc;
}

/* After an exec that returned (failed): the X that was to be carried is written by this image. */
/* After an exec that returned (failed): the X that was to be carried is written by this image, the environment
 * built for the new image (rc 0 from exec_prepare) is freed; errno stays the exec's. */
static void exec_failed(struct new_env *ne, int rc) {
    int e = errno;
    if (ne->x_carried) {
        ne->x_carried = 0;
        roar_t_guard++;
        roar_line_commit(&ne->x);
        roar_t_guard--;
    }
    if (rc == 0) {
        new_env_free(ne);
    }
    errno = e;
}

/* ---------------------------------------------------------------------------------------------------------
 * exec
 */
REAL_DECL(int, execve, (const char *path, char *const argv[], char *const envp[]), -1);
REAL_DECL(int, execvpe, (const char *file, char *const argv[], char *const envp[]), -1);
REAL_DECL(int, fexecve, (int fd, char *const argv[], char *const envp[]), -1);

static int do_exec(const char *file, char *const argv[], char *const envp[], int search) {
    if (!roar_active()) {
        return search ? REAL(execvpe)(file, argv, envp) : REAL(execve)(file, argv, envp);
    }
    int saved = errno;
    roar_t_guard++;
    char resolved[ROAR_PATH_MAX];
    long rlen = resolve_program(file, search, resolved);
    struct new_env ne;
    int rc = exec_prepare(resolved, rlen, argv, envp, 0, &ne);
    roar_t_guard--;
    errno = saved;
    char *const *use = rc == 0 ? ne.envp : envp;
    int r = search ? REAL(execvpe)(file, argv, use) : REAL(execve)(file, argv, use);
    exec_failed(&ne, rc);
    return r;
}

ROAR_EXPORT int execve(const char *path, char *const argv[], char *const envp[]) {
    return do_exec(path, argv, envp, 0);
}

ROAR_EXPORT int execv(const char *path, char *const argv[]) {
    return do_exec(path, argv, environ, 0);
}

ROAR_EXPORT int execvp(const char *file, char *const argv[]) {
    return do_exec(file, argv, environ, 1);
}

ROAR_EXPORT int execvpe(const char *file, char *const argv[], char *const envp[]) {
    return do_exec(file, argv, envp, 1);
}

ROAR_EXPORT int fexecve(int fd, char *const argv[], char *const envp[]) {
    if (!roar_active()) {
        return REAL(fexecve)(fd, argv, envp);
    }
    int saved = errno;
    roar_t_guard++;
    char proc[40], resolved[ROAR_PATH_MAX];
    snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
    long rlen = roar_sys_readlink(proc, resolved, sizeof resolved - 1);
    if (rlen > 0) {
        resolved[rlen] = 0;
    } else {
        rlen = -1;
    }
    struct new_env ne;
    int rc = exec_prepare(resolved, rlen, argv, envp, 0, &ne);
    roar_t_guard--;
    errno = saved;
    int r = REAL(fexecve)(fd, argv, rc == 0 ? ne.envp : envp);
    exec_failed(&ne, rc);
    return r;
}

/* execl* collect their variadic arguments into an argv (on the stack: exec replaces the image anyway). */
#define COLLECT_ARGS(arg0, last_named, argvname, extra_env)         \
    size_t argc_ = 1;                                                \
    {                                                                \
        va_list ap_;                                                 \
        va_start(ap_, last_named);                                   \
        while (va_arg(ap_, char *) != NULL) {                        \
            argc_++;                                                 \
        }                                                            \
        va_end(ap_);                                                 \
    }                                                                \
    char *argvname[argc_ + 1];                                       \
    argvname[0] = (char *)(arg0);                                    \
    {                                                                \
        va_list ap_;                                                 \
        va_start(ap_, last_named);                                   \
        for (size_t i_ = 1; i_ <= argc_; i_++) {                     \
            argvname[i_] = va_arg(ap_, char *);                      \
        }                                                            \
        extra_env;                                                   \
        va_end(ap_);                                                 \
    }

ROAR_EXPORT int execl(const char *path, const char *arg, ...) {
    COLLECT_ARGS(arg, arg, argv, (void)0);
    return do_exec(path, argv, environ, 0);
}

ROAR_EXPORT int execlp(const char *file, const char *arg, ...) {
    COLLECT_ARGS(arg, arg, argv, (void)0);
    return do_exec(file, argv, environ, 1);
}

ROAR_EXPORT int execle(const char *path, const char *arg, ...) {
    char **envp = NULL;
    COLLECT_ARGS(arg, arg, argv, envp = va_arg(ap_, char **));
    return do_exec(path, argv, envp, 0);
}

/* ---------------------------------------------------------------------------------------------------------
 * posix_spawn
 */
REAL_DECL(int, posix_spawn, (pid_t *pid, const char *path, const posix_spawn_file_actions_t *fa,
                             const posix_spawnattr_t *attr, char *const argv[], char *const envp[]), ENOSYS);
REAL_DECL(int, posix_spawnp, (pid_t *pid, const char *file, const posix_spawn_file_actions_t *fa,
                              const posix_spawnattr_t *attr, char *const argv[], char *const envp[]), ENOSYS);

static int do_spawn(pid_t *pid, const char *file, const posix_spawn_file_actions_t *fa, const posix_spawnattr_t *attr,
                    char *const argv[], char *const envp[], int search) {
    if (!roar_active()) {
        return search ? REAL(posix_spawnp)(pid, file, fa, attr, argv, envp)
                      : REAL(posix_spawn)(pid, file, fa, attr, argv, envp);
    }
    int saved = errno;
    roar_t_guard++;
    char resolved[ROAR_PATH_MAX];
    long rlen = resolve_program(file, search, resolved);
    struct new_env ne;
    int rc = exec_prepare(resolved, rlen, argv, envp, 1, &ne);
    errno = saved;
    pid_t child = 0;
    char *const *use = rc == 0 ? ne.envp : envp;
    int r = search ? REAL(posix_spawnp)(&child, file, fa, attr, argv, use)
                   : REAL(posix_spawn)(&child, file, fa, attr, argv, use);
    if (r == 0) {
        if (pid) {
            *pid = child;
        }
        roar_fd_mark_shared_with_child();
        roar_emit_pid(child);
    }
    if (rc == 0) {
        new_env_free(&ne);
    }
    roar_t_guard--;
    errno = saved;
    return r;
}

ROAR_EXPORT int posix_spawn(pid_t *pid, const char *path, const posix_spawn_file_actions_t *fa,
                            const posix_spawnattr_t *attr, char *const argv[], char *const envp[]) {
    return do_spawn(pid, path, fa, attr, argv, envp, 0);
}

ROAR_EXPORT int posix_spawnp(pid_t *pid, const char *file, const posix_spawn_file_actions_t *fa,
                             const posix_spawnattr_t *attr, char *const argv[], char *const envp[]) {
    return do_spawn(pid, file, fa, attr, argv, envp, 1);
}

/* ---------------------------------------------------------------------------------------------------------
 * system(): libc spawns the shell internally (no hook sees it), so it is reimplemented on our posix_spawn path
 * with the same signal handling: SIGINT/SIGQUIT ignored and SIGCHLD blocked in the caller while it waits.
 */
REAL_DECL(int, system, (const char *cmd), -1);

static pthread_mutex_t system_mu = PTHREAD_MUTEX_INITIALIZER;
static int system_active;
static struct sigaction system_saved_int, system_saved_quit;

ROAR_EXPORT int system(const char *cmd) {
    if (cmd == NULL || !roar_active()) {
        return REAL(system)(cmd);
    }
    struct sigaction ign;
    memset(&ign, 0, sizeof ign);
    ign.sa_handler = SIG_IGN;
    sigemptyset(&ign.sa_mask);
    pthread_mutex_lock(&system_mu);
    if (system_active++ == 0) {
        sigaction(SIGINT, &ign, &system_saved_int);
        sigaction(SIGQUIT, &ign, &system_saved_quit);
    }
    pthread_mutex_unlock(&system_mu);
    sigset_t block, omask;
    sigemptyset(&block);
    sigaddset(&block, SIGCHLD);
    sigprocmask(SIG_BLOCK, &block, &omask);

    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    sigset_t deflt;
    sigemptyset(&deflt);
    if (system_saved_int.sa_handler != SIG_IGN) {
        sigaddset(&deflt, SIGINT);
    }
    if (system_saved_quit.sa_handler != SIG_IGN) {
        sigaddset(&deflt, SIGQUIT);
    }
    posix_spawnattr_setsigdefault(&attr, &deflt);
    posix_spawnattr_setsigmask(&attr, &omask);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);

    char *argv[] = {"sh", "-c", (char *)cmd, NULL};
    pid_t pid;
    int status;
    int r = do_spawn(&pid, "/bin/sh", NULL, &attr, argv, environ, 0);
    if (r == 0) {
        while (waitpid(pid, &status, 0) < 0) {
            if (errno != EINTR) {
                status = -1;
                break;
            }
        }
    } else {
        status = W_EXITCODE(127, 0);
    }
    posix_spawnattr_destroy(&attr);
    int e = errno;
    pthread_mutex_lock(&system_mu);
    if (--system_active == 0) {
        sigaction(SIGINT, &system_saved_int, NULL);
        sigaction(SIGQUIT, &system_saved_quit, NULL);
    }
    pthread_mutex_unlock(&system_mu);
    sigprocmask(SIG_SETMASK, &omask, NULL);
    errno = e;
    return status;
}

/* popen(): libc spawns internally; the X record is written and the spool flushed, and the child inherits the
 * process environment (LD_PRELOAD, the process's ROAR_TAG) rather than this thread's tag. */
REAL_DECL(FILE *, popen, (const char *cmd, const char *mode), NULL);

ROAR_EXPORT FILE *popen(const char *cmd, const char *mode) {
    if (cmd != NULL && roar_active()) {
        int saved = errno;
        roar_t_guard++;
        struct roar_line l;
        roar_line_init(&l, 'X');
        roar_line_str(&l, roar_current_tag());
        roar_line_u64(&l, roar_now_ns());
        roar_line_str(&l, "/bin/sh");
        roar_line_str(&l, "sh");
        roar_line_str(&l, "-c");
        roar_line_str(&l, cmd);
        roar_line_commit(&l);
        roar_spool_flush();
        roar_t_guard--;
        errno = saved;
    }
    return REAL(popen)(cmd, mode);
}

/* ---------------------------------------------------------------------------------------------------------
 * fork, vfork
 */
REAL_DECL(pid_t, fork, (void), -1);

static pid_t do_fork(void) {
    if (!roar_active()) {
        return REAL(fork)();
    }
    pid_t p = REAL(fork)(); /* the atfork handlers flush before and start a fresh spool in the child */
    if (p > 0) {
        int e = errno;
        roar_t_guard++;
        roar_fd_mark_shared_with_child();
        roar_emit_pid(p);
        roar_t_guard--;
        errno = e;
    }
    return p;
}

ROAR_EXPORT pid_t fork(void) {
    return do_fork();
}

/* vfork cannot be wrapped by a function that returns into the child (the child would clobber the frame the
 * parent returns through), and a vfork child must not touch the parent's spool buffer: it is a fork here. */
ROAR_EXPORT pid_t vfork(void) {
    return do_fork();
}

/* ---------------------------------------------------------------------------------------------------------
 * threads: a new thread starts with its creator's tag (and follows the process's task when that is a task tag)
 */
/* pthread_create and posix_spawn return their error. */
REAL_DECL(int, pthread_create, (pthread_t *t, const pthread_attr_t *attr, void *(*fn)(void *), void *arg), ENOSYS);

struct thread_start {
    void *(*fn)(void *);
    void *arg;
    int tag_set;
    char tag[ROAR_TAG_MAX];
};

static void *thread_trampoline(void *p) {
    struct thread_start *s = p;
    void *(*fn)(void *) = s->fn;
    void *arg = s->arg;
    if (s->tag_set) {
        memcpy(roar_t_tag, s->tag, ROAR_TAG_MAX);
        roar_t_tag_set = 1;
        /* A task's thread may outlive the task (a library's pool): it follows the process's task. Odd: never a
         * published generation, so its first I/O looks. */
        roar_t_follow = roar_is_task_tag(s->tag);
        roar_t_follow_gen = 1;
    }
    free(s);
    void *r = fn(arg);
    roar_tag_thread_end();
    return r;
}

ROAR_EXPORT int pthread_create(pthread_t *t, const pthread_attr_t *attr, void *(*fn)(void *), void *arg) {
    if (!roar_active()) {
        return REAL(pthread_create)(t, attr, fn, arg);
    }
    int saved = errno;
    struct thread_start *s = malloc(sizeof *s);
    if (s == NULL) {
        errno = saved;
        return REAL(pthread_create)(t, attr, fn, arg);
    }
    s->fn = fn;
    s->arg = arg;
    s->tag_set = roar_t_tag_set;
    memcpy(s->tag, roar_t_tag, ROAR_TAG_MAX);
    errno = saved;
    int r = REAL(pthread_create)(t, attr, thread_trampoline, s);
    if (r != 0) {
        free(s);
    } else {
        __atomic_store_n(&roar_program_has_threads, 1, __ATOMIC_RELAXED);
    }
    return r;
}

/* ---------------------------------------------------------------------------------------------------------
 * _exit: no destructors run, so finalise here (forked children, e.g. multiprocessing, end this way)
 */
/* Without them the process still has to end: the kernel's exit_group is what they do. */
REAL_DECL_WITH_FALLBACK(void, _exit, (int status)) {
    roar_real_unresolved();
    syscall(SYS_exit_group, status);
    __builtin_unreachable();
}
REAL_DECL_WITH_FALLBACK(void, _Exit, (int status)) {
    roar_real_unresolved();
    syscall(SYS_exit_group, status);
    __builtin_unreachable();
}

ROAR_EXPORT __attribute__((noreturn)) void _exit(int status) {
    if (roar_active()) {
        roar_process_exit();
    }
    REAL(_exit)(status);
    __builtin_unreachable();
}

ROAR_EXPORT __attribute__((noreturn)) void _Exit(int status) {
    if (roar_active()) {
        roar_process_exit();
    }
    REAL(_Exit)(status);
    __builtin_unreachable();
}
