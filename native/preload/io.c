/*
 * File I/O hooks: open/close/read/write in all their libc spellings, stdio streams, dup, seek, truncate, mmap,
 * in-kernel copies and namespace changes (rename, link, unlink). Each hook calls the real function and records
 * what it did; errno is the real call's on return.
 */
#include "internal.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#undef fwrite_unlocked
#undef fread_unlocked
#undef fputs_unlocked

#ifndef __O_TMPFILE
#define __O_TMPFILE 020000000
#endif
#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif
#ifndef AT_REMOVEDIR
#define AT_REMOVEDIR 0x200
#endif

static inline int needs_mode(int flags) {
    return (flags & O_CREAT) || (flags & __O_TMPFILE) == __O_TMPFILE;
}

/* fds on which I/O is not recorded at all (pipes, sockets, ignored paths): the cheap early exit. */
static inline int passthrough_fd(int fd) {
    if ((unsigned)fd >= ROAR_FD_MAX) {
        return 1;
    }
    struct roar_desc *d = roar_fd_peek(fd);
    return d == ROAR_D_NONREG || d == ROAR_D_IGNORED;
}

/* Most hooks: the real call with `args` gives `r`; when `cond` holds and the library records, `after` runs (it
 * saves errno and raises the guard itself). `cond` is tested first: a call that cannot matter (a failed rename, an
 * anonymous mapping) does not even look at the library's state. */
#define AFTER_HOOK(ret, name, params, args, failure, cond, after) \
    REAL_DECL(ret, name, params, failure);                        \
    ROAR_EXPORT ret name params {                                 \
        ret r = REAL(name) args;                                  \
        if ((cond) && roar_active()) {                            \
            after;                                                \
        }                                                         \
        return r;                                                 \
    }

/* ---------------------------------------------------------------------------------------------------------
 * open
 */
static void after_open(int dirfd, const char *path, int fd, int flags) {
    int e = errno;
    roar_t_guard++;
    if ((flags & __O_TMPFILE) == __O_TMPFILE) {
        roar_fd_opened(fd, NULL, 0, flags, 1); /* unnamed until linked: not recorded */
    } else {
        char norm[ROAR_PATH_MAX];
        const char *p;
        long n = roar_resolve_path_ref(dirfd, path, norm, &p);
        if (n < 0) {
            roar_count(RC_UNTRACKED_FD);
            roar_fd_opened(fd, NULL, 0, flags, 1);
        } else {
            roar_fd_opened(fd, p, (size_t)n, flags, roar_path_ignored(p, (size_t)n));
        }
    }
    roar_t_guard--;
    errno = e;
}

/* The mode argument of an open that creates (read only then: it is variadic). */
#define OPEN_MODE(flags, mode)             \
    mode_t mode = 0;                       \
    if (needs_mode(flags)) {               \
        va_list ap;                        \
        va_start(ap, flags);               \
        mode = (mode_t)va_arg(ap, int);    \
        va_end(ap);                        \
    }

/* One open variant: `prologue` runs first (OPEN_MODE for the variadic forms), then the real call with `args`;
 * an fd it returns is recorded as `path` opened relative to `dirfd` with `flags`. */
#define OPEN_HOOK(name, params, args, dirfd, flags, prologue) \
    REAL_DECL(int, name, params, -1);                         \
    ROAR_EXPORT int name params {                             \
        prologue;                                             \
        int fd = REAL(name) args;                             \
        if (fd >= 0 && roar_active()) {                       \
            after_open(dirfd, path, fd, flags);               \
        }                                                     \
        return fd;                                            \
    }

#define CREAT_FLAGS (O_CREAT | O_WRONLY | O_TRUNC)

OPEN_HOOK(open, (const char *path, int flags, ...), (path, flags, mode), AT_FDCWD, flags, OPEN_MODE(flags, mode))
OPEN_HOOK(open64, (const char *path, int flags, ...), (path, flags, mode), AT_FDCWD, flags, OPEN_MODE(flags, mode))
OPEN_HOOK(openat, (int dirfd, const char *path, int flags, ...), (dirfd, path, flags, mode), dirfd, flags,
          OPEN_MODE(flags, mode))
OPEN_HOOK(openat64, (int dirfd, const char *path, int flags, ...), (dirfd, path, flags, mode), dirfd, flags,
          OPEN_MODE(flags, mode))
/* The fortified forms (_FORTIFY_SOURCE): an open called without a mode argument. */
OPEN_HOOK(__open_2, (const char *path, int flags), (path, flags), AT_FDCWD, flags, (void)0)
OPEN_HOOK(__open64_2, (const char *path, int flags), (path, flags), AT_FDCWD, flags, (void)0)
OPEN_HOOK(__openat_2, (int dirfd, const char *path, int flags), (dirfd, path, flags), dirfd, flags, (void)0)
OPEN_HOOK(__openat64_2, (int dirfd, const char *path, int flags), (dirfd, path, flags), dirfd, flags, (void)0)
OPEN_HOOK(creat, (const char *path, mode_t mode), (path, mode), AT_FDCWD, CREAT_FLAGS, (void)0)
OPEN_HOOK(creat64, (const char *path, mode_t mode), (path, mode), AT_FDCWD, CREAT_FLAGS, (void)0)

/* ---------------------------------------------------------------------------------------------------------
 * stdio streams: libc's stdio reaches the kernel through internal calls we cannot see, so streams are tracked
 * by their fd: opened here, bytes counted in the common output/input functions, flushed and finalised at fclose.
 */
static int flags_from_fopen_mode(const char *m) {
    int flags;
    int plus = m && strchr(m, '+') != NULL;
    switch (m ? m[0] : 'r') {
    case 'w':
        flags = (plus ? O_RDWR : O_WRONLY) | O_CREAT | O_TRUNC;
        break;
    case 'a':
        flags = (plus ? O_RDWR : O_WRONLY) | O_CREAT | O_APPEND;
        break;
    default:
        flags = plus ? O_RDWR : O_RDONLY;
        break;
    }
    return flags;
}

static void after_fopen(const char *path, const char *mode, FILE *f) {
    int e = errno;
    int fd = fileno(f);
    errno = e;
    if (fd >= 0) {
        after_open(AT_FDCWD, path, fd, flags_from_fopen_mode(mode));
    }
}

/* The FILE's fd is going away: flush what it buffers for a written file so the final content is on disk when
 * the description is finalised, then drop the fd. */
static void before_fclose(FILE *f) {
    int e = errno;
    int fd = fileno(f);
    if (fd >= 0 && fd < ROAR_FD_MAX) {
        struct roar_desc *d = roar_fd_peek(fd);
        if (roar_is_desc(d)) {
            roar_t_guard++;
            if (d->mode & DM_W) {
                fflush(f);
            }
            roar_fd_closing(fd);
            roar_t_guard--;
        } else if (d != NULL) {
            roar_fd_closing(fd);
        }
    }
    errno = e;
}

/* After fopen/freopen (and their 64 forms) returned `f` for `path`. */
static FILE *after_stream_open(const char *path, const char *mode, FILE *f) {
    if (f && path && roar_active()) {
        after_fopen(path, mode, f);
    }
    return f;
}

/* freopen closes the stream's old file first. */
static void before_freopen(FILE *stream) {
    if (roar_active() && stream) {
        before_fclose(stream);
    }
}

/* One stream-opening variant: `prologue`, then the real call with `args`, whose stream is recorded. */
#define STREAM_OPEN_HOOK(name, params, args, prologue)                 \
    REAL_DECL(FILE *, name, params, NULL);                             \
    ROAR_EXPORT FILE *name params {                                    \
        prologue;                                                      \
        return after_stream_open(path, mode, REAL(name) args);         \
    }

STREAM_OPEN_HOOK(fopen, (const char *path, const char *mode), (path, mode), (void)0)
STREAM_OPEN_HOOK(fopen64, (const char *path, const char *mode), (path, mode), (void)0)
STREAM_OPEN_HOOK(freopen, (const char *path, const char *mode, FILE *stream), (path, mode, stream),
                 before_freopen(stream))
STREAM_OPEN_HOOK(freopen64, (const char *path, const char *mode, FILE *stream), (path, mode, stream),
                 before_freopen(stream))

REAL_DECL(FILE *, fdopen, (int fd, const char *mode), NULL);
REAL_DECL(int, fclose, (FILE *f), EOF);

/* A stream on an fd we never saw opened (inherited, or from a raw syscall): identify the file now. */
ROAR_EXPORT FILE *fdopen(int fd, const char *mode) {
    FILE *f = REAL(fdopen)(fd, mode);
    if (f && roar_active()) {
        ROAR_GUARDED(roar_fd_adopt_if_unknown(fd));
    }
    return f;
}

ROAR_EXPORT int fclose(FILE *f) {
    if (f && roar_active()) {
        before_fclose(f);
    }
    return REAL(fclose)(f);
}

static void stdio_wrote(FILE *f, uint64_t n) {
    int e = errno;
    int fd = fileno(f);
    if (!passthrough_fd(fd)) {
        roar_t_guard++;
        roar_fd_count_write_unstreamed(fd, n, DS_STDIO);
        roar_t_guard--;
    }
    errno = e;
}

static void stdio_read(FILE *f, uint64_t n) {
    int e = errno;
    int fd = fileno(f);
    if (!passthrough_fd(fd)) {
        roar_t_guard++;
        roar_fd_count_read(fd, n, 0);
        roar_t_guard--;
    }
    errno = e;
}

/* One stdio output or input function: the real call with `args` returns `r`; when `ok`, `count` (stdio_wrote or
 * stdio_read) records `bytes` for stream `f`. */
#define STDIO_HOOK(ret, name, params, args, failure, ok, count, bytes) \
    AFTER_HOOK(ret, name, params, args, failure, ok, count(f, bytes))

/* The variadic printf forms call libc's va_list form `vname` (not its hook: the bytes are counted once, here). */
#define STDIO_PRINTF_HOOK(name, vname, params, vargs, last)            \
    ROAR_EXPORT int name params {                                      \
        va_list ap;                                                    \
        va_start(ap, last);                                            \
        int r = REAL(vname) vargs;                                     \
        va_end(ap);                                                    \
        if (r > 0 && roar_active()) {                                  \
            stdio_wrote(f, (uint64_t)r);                               \
        }                                                              \
        return r;                                                      \
    }

STDIO_HOOK(size_t, fwrite, (const void *p, size_t size, size_t n, FILE *f), (p, size, n, f), 0, r > 0, stdio_wrote,
           (uint64_t)r * size)
STDIO_HOOK(size_t, fwrite_unlocked, (const void *p, size_t size, size_t n, FILE *f), (p, size, n, f), 0, r > 0,
           stdio_wrote, (uint64_t)r * size)
STDIO_HOOK(int, fputs, (const char *s, FILE *f), (s, f), EOF, r >= 0, stdio_wrote, strlen(s))
STDIO_HOOK(int, fputs_unlocked, (const char *s, FILE *f), (s, f), EOF, r >= 0, stdio_wrote, strlen(s))
STDIO_HOOK(int, vfprintf, (FILE *f, const char *fmt, va_list ap), (f, fmt, ap), -1, r > 0, stdio_wrote, (uint64_t)r)
STDIO_HOOK(int, __vfprintf_chk, (FILE *f, int flag, const char *fmt, va_list ap), (f, flag, fmt, ap), -1, r > 0,
           stdio_wrote, (uint64_t)r)
STDIO_PRINTF_HOOK(fprintf, vfprintf, (FILE *f, const char *fmt, ...), (f, fmt, ap), fmt)
STDIO_PRINTF_HOOK(__fprintf_chk, __vfprintf_chk, (FILE *f, int flag, const char *fmt, ...), (f, flag, fmt, ap), fmt)
STDIO_HOOK(size_t, fread, (void *p, size_t size, size_t n, FILE *f), (p, size, n, f), 0, r > 0, stdio_read,
           (uint64_t)r * size)
STDIO_HOOK(size_t, fread_unlocked, (void *p, size_t size, size_t n, FILE *f), (p, size, n, f), 0, r > 0, stdio_read,
           (uint64_t)r * size)
STDIO_HOOK(char *, fgets, (char *s, int n, FILE *f), (s, n, f), NULL, r != NULL, stdio_read, strlen(r))

/* ---------------------------------------------------------------------------------------------------------
 * close, dup
 */
REAL_DECL(int, close, (int fd), -1);
REAL_DECL(int, close_range, (unsigned first, unsigned last, int flags), -1);
/* closefrom has no failure to report: without it, the kernel's close_range does the same. */
REAL_DECL_WITH_FALLBACK(void, closefrom, (int lowfd)) {
    roar_real_unresolved();
    syscall(SYS_close_range, (unsigned)lowfd, ~0u, 0);
}
REAL_DECL(int, closedir, (DIR *dir), -1);
REAL_DECL(int, dup2, (int oldfd, int newfd), -1);
REAL_DECL(int, dup3, (int oldfd, int newfd, int flags), -1);
REAL_DECL(int, fcntl, (int fd, int cmd, ...), -1);
REAL_DECL(int, fcntl64, (int fd, int cmd, ...), -1);

/* The program closing (or dup2-ing onto) the number of the library's spool fd: see roar_spool_fd_closing. */
static inline void protect_spool_fd(int fd) {
    if (ROAR_UNLIKELY(fd == roar_spool_fd && fd >= 0)) {
        int e = errno;
        roar_spool_fd_closing();
        errno = e;
    }
}

ROAR_EXPORT int close(int fd) {
    protect_spool_fd(fd);
    if ((unsigned)fd < ROAR_FD_MAX && roar_fd_peek(fd) != NULL && roar_active()) {
        ROAR_GUARDED(roar_fd_close_begin(fd));
        int r = REAL(close)(fd);
        roar_fd_close_end(); /* a digest left to the background thread: its lease is taken now */
        return r;
    }
    return REAL(close)(fd);
}

static void closing_range(unsigned first, unsigned last) {
    int sfd = roar_spool_fd;
    if (sfd >= 0 && (unsigned)sfd >= first && (unsigned)sfd <= last) {
        protect_spool_fd(sfd);
    }
    int e = errno;
    roar_t_guard++;
    int max = roar_fd_max_seen();
    for (unsigned fd = first; fd <= last && (int)fd <= max; fd++) {
        roar_fd_closing((int)fd);
    }
    roar_t_guard--;
    errno = e;
}

ROAR_EXPORT int close_range(unsigned first, unsigned last, int flags) {
    if (!(flags & CLOSE_RANGE_CLOEXEC) && roar_active()) {
        closing_range(first, last);
    }
    return REAL(close_range)(first, last, flags);
}

ROAR_EXPORT void closefrom(int lowfd) {
    if (lowfd >= 0 && roar_active()) {
        closing_range((unsigned)lowfd, ~0u);
    }
    REAL(closefrom)(lowfd);
}

ROAR_EXPORT int closedir(DIR *dir) {
    if (roar_active()) {
        int e = errno;
        int fd = dirfd(dir);
        roar_t_guard++;
        roar_fd_closing(fd);
        roar_t_guard--;
        errno = e;
    }
    return REAL(closedir)(dir);
}

static void after_dup(int oldfd, int newfd) {
    if (newfd < 0 || (unsigned)oldfd >= ROAR_FD_MAX) {
        return;
    }
    if (roar_fd_peek(oldfd) == NULL && ((unsigned)newfd >= ROAR_FD_MAX || roar_fd_peek(newfd) == NULL)) {
        return;
    }
    ROAR_GUARDED(roar_fd_dup(oldfd, newfd));
}

/* dup2/dup3 onto a tracked fd close it first (when the call is going to succeed). */
static void before_dup_onto(int oldfd, int newfd) {
    protect_spool_fd(newfd);
    if ((unsigned)newfd >= ROAR_FD_MAX || roar_fd_peek(newfd) == NULL || oldfd == newfd) {
        return;
    }
    int e = errno;
    if (roar_sys_fcntl(oldfd, F_GETFD, 0) >= 0) {
        roar_t_guard++;
        roar_fd_closing(newfd);
        roar_t_guard--;
    }
    errno = e;
}

AFTER_HOOK(int, dup, (int fd), (fd), -1, r >= 0, after_dup(fd, r))

ROAR_EXPORT int dup2(int oldfd, int newfd) {
    int active = roar_active();
    if (active) {
        before_dup_onto(oldfd, newfd);
    }
    int r = REAL(dup2)(oldfd, newfd);
    if (r >= 0 && active && oldfd != newfd) {
        after_dup(oldfd, r);
    }
    return r;
}

ROAR_EXPORT int dup3(int oldfd, int newfd, int flags) {
    int active = roar_active();
    if (active) {
        before_dup_onto(oldfd, newfd);
    }
    int r = REAL(dup3)(oldfd, newfd, flags);
    if (r >= 0 && active) {
        after_dup(oldfd, r);
    }
    return r;
}

/* fcntl's F_DUPFD forms duplicate a descriptor like dup. */
static int after_fcntl(int fd, int cmd, int r) {
    if (r >= 0 && (cmd == F_DUPFD || cmd == F_DUPFD_CLOEXEC) && roar_active()) {
        after_dup(fd, r);
    }
    return r;
}

/* The third argument, when there is one, is an int, a long or a pointer: passed on as a long. */
#define FCNTL_HOOK(name)                                           \
    ROAR_EXPORT int name(int fd, int cmd, ...) {                   \
        va_list ap;                                                \
        va_start(ap, cmd);                                         \
        long arg = va_arg(ap, long);                               \
        va_end(ap);                                                \
        return after_fcntl(fd, cmd, REAL(name)(fd, cmd, arg));     \
    }

FCNTL_HOOK(fcntl)
FCNTL_HOOK(fcntl64)

/* ---------------------------------------------------------------------------------------------------------
 * read
 */
static void after_read(int fd, ssize_t r, int moves_offset) {
    if (r < 0) {
        return;
    }
    ROAR_GUARDED(roar_fd_count_read(fd, (uint64_t)r, moves_offset));
}

#define READ_HOOK(name, params, args, fd, moves)            \
    REAL_DECL(ssize_t, name, params, -1);                   \
    ROAR_EXPORT ssize_t name params {                       \
        if (passthrough_fd(fd) || !roar_active()) {         \
            return REAL(name) args;                         \
        }                                                   \
        ssize_t r = REAL(name) args;                        \
        after_read(fd, r, moves);                           \
        return r;                                           \
    }

READ_HOOK(read, (int fd, void *buf, size_t n), (fd, buf, n), fd, 1)
READ_HOOK(__read_chk, (int fd, void *buf, size_t n, size_t buflen), (fd, buf, n, buflen), fd, 1)
READ_HOOK(pread, (int fd, void *buf, size_t n, off_t off), (fd, buf, n, off), fd, 0)
READ_HOOK(pread64, (int fd, void *buf, size_t n, off_t off), (fd, buf, n, off), fd, 0)
READ_HOOK(__pread_chk, (int fd, void *buf, size_t n, off_t off, size_t buflen), (fd, buf, n, off, buflen), fd, 0)
READ_HOOK(__pread64_chk, (int fd, void *buf, size_t n, off_t off, size_t buflen), (fd, buf, n, off, buflen), fd, 0)
READ_HOOK(readv, (int fd, const struct iovec *iov, int cnt), (fd, iov, cnt), fd, 1)
READ_HOOK(preadv, (int fd, const struct iovec *iov, int cnt, off_t off), (fd, iov, cnt, off), fd, 0)
READ_HOOK(preadv64, (int fd, const struct iovec *iov, int cnt, off_t off), (fd, iov, cnt, off), fd, 0)
READ_HOOK(preadv2, (int fd, const struct iovec *iov, int cnt, off_t off, int fl), (fd, iov, cnt, off, fl), fd,
          off == -1)
READ_HOOK(preadv64v2, (int fd, const struct iovec *iov, int cnt, off_t off, int fl), (fd, iov, cnt, off, fl), fd,
          off == -1)

/* ---------------------------------------------------------------------------------------------------------
 * write: streamed into the description's hash in file order (the description lock is held across the call)
 */
REAL_DECL(ssize_t, write, (int fd, const void *buf, size_t n), -1);
REAL_DECL(ssize_t, writev, (int fd, const struct iovec *iov, int cnt), -1);

/* Callers hold the guard. */
static struct roar_desc *begin_write(int fd) {
    int e = errno;
    struct roar_desc *d = roar_fd_lock_for_write(fd);
    errno = e;
    return d;
}

static void end_write(struct roar_desc *d) {
    int e = errno;
    roar_fd_unlock_write(d);
    errno = e;
}

/* The guard stays raised from begin_write to end_write: a signal handler writing to the same file while the
 * real call runs passes through instead of waiting for the description lock this thread holds. */
ROAR_EXPORT ssize_t write(int fd, const void *buf, size_t n) {
    if (passthrough_fd(fd) || !roar_active()) {
        return REAL(write)(fd, buf, n);
    }
    roar_t_guard++;
    struct roar_desc *d = begin_write(fd);
    ssize_t r = REAL(write)(fd, buf, n);
    if (d) {
        if (r > 0) {
            int e = errno;
            roar_fd_stream(d, fd, buf, (size_t)r);
            errno = e;
        }
        end_write(d);
    }
    roar_t_guard--;
    return r;
}

static void stream_iov(struct roar_desc *d, int fd, const struct iovec *iov, int cnt, size_t total) {
    for (int i = 0; i < cnt && total > 0; i++) {
        size_t n = iov[i].iov_len < total ? iov[i].iov_len : total;
        if (n) {
            roar_fd_stream(d, fd, iov[i].iov_base, n);
        }
        total -= n;
    }
}

/* A vector write at the current offset: the bytes extend the stream being hashed. `real` performs it. */
typedef ssize_t (*vector_write_fn)(int fd, const struct iovec *iov, int cnt, off_t off, int fl);

static ssize_t streamed_vector_write(vector_write_fn real, int fd, const struct iovec *iov, int cnt, off_t off,
                                     int fl) {
    roar_t_guard++;
    struct roar_desc *d = begin_write(fd);
    ssize_t r = real(fd, iov, cnt, off, fl);
    if (d) {
        if (r > 0) {
            int e = errno;
            stream_iov(d, fd, iov, cnt, (size_t)r);
            errno = e;
        }
        end_write(d);
    }
    roar_t_guard--;
    return r;
}

static ssize_t call_writev(int fd, const struct iovec *iov, int cnt, off_t off, int fl) {
    (void)off;
    (void)fl;
    return REAL(writev)(fd, iov, cnt);
}

ROAR_EXPORT ssize_t writev(int fd, const struct iovec *iov, int cnt) {
    if (passthrough_fd(fd) || !roar_active()) {
        return REAL(writev)(fd, iov, cnt);
    }
    return streamed_vector_write(call_writev, fd, iov, cnt, -1, 0);
}

/* Positioned writes change content the stream does not describe: the hash is recomputed at close. */
static void after_unstreamed_write(int fd, ssize_t r) {
    if (r <= 0) {
        return;
    }
    ROAR_GUARDED(roar_fd_count_write_unstreamed(fd, (uint64_t)r, DS_CONTENT));
}

#define PWRITE_HOOK(name, params, args, fd)                 \
    REAL_DECL(ssize_t, name, params, -1);                   \
    ROAR_EXPORT ssize_t name params {                       \
        if (passthrough_fd(fd) || !roar_active()) {         \
            return REAL(name) args;                         \
        }                                                   \
        ssize_t r = REAL(name) args;                        \
        after_unstreamed_write(fd, r);                      \
        return r;                                           \
    }

PWRITE_HOOK(pwrite, (int fd, const void *buf, size_t n, off_t off), (fd, buf, n, off), fd)
PWRITE_HOOK(pwrite64, (int fd, const void *buf, size_t n, off_t off), (fd, buf, n, off), fd)
PWRITE_HOOK(pwritev, (int fd, const struct iovec *iov, int cnt, off_t off), (fd, iov, cnt, off), fd)
PWRITE_HOOK(pwritev64, (int fd, const struct iovec *iov, int cnt, off_t off), (fd, iov, cnt, off), fd)

REAL_DECL(ssize_t, pwritev2, (int fd, const struct iovec *iov, int cnt, off_t off, int fl), -1);
REAL_DECL(ssize_t, pwritev64v2, (int fd, const struct iovec *iov, int cnt, off_t off, int fl), -1);

static ssize_t call_pwritev2(int fd, const struct iovec *iov, int cnt, off_t off, int fl) {
    return REAL(pwritev2)(fd, iov, cnt, off, fl);
}

static ssize_t call_pwritev64v2(int fd, const struct iovec *iov, int cnt, off_t off, int fl) {
    return REAL(pwritev64v2)(fd, iov, cnt, off, fl);
}

/* pwritev2 with offset -1 writes at the current offset, like writev: streamed. Else positioned. */
static ssize_t traced_pwritev2(vector_write_fn real, int fd, const struct iovec *iov, int cnt, off_t off, int fl) {
    if (passthrough_fd(fd) || !roar_active()) {
        return real(fd, iov, cnt, off, fl);
    }
    if (off == -1) {
        return streamed_vector_write(real, fd, iov, cnt, off, fl);
    }
    ssize_t r = real(fd, iov, cnt, off, fl);
    after_unstreamed_write(fd, r);
    return r;
}

ROAR_EXPORT ssize_t pwritev2(int fd, const struct iovec *iov, int cnt, off_t off, int fl) {
    return traced_pwritev2(call_pwritev2, fd, iov, cnt, off, fl);
}

ROAR_EXPORT ssize_t pwritev64v2(int fd, const struct iovec *iov, int cnt, off_t off, int fl) {
    return traced_pwritev2(call_pwritev64v2, fd, iov, cnt, off, fl);
}

/* ---------------------------------------------------------------------------------------------------------
 * In-kernel copies: bytes counted, the destination's hash recomputed at close.
 */
static void after_copy(int in, int out, ssize_t r, int in_moves) {
    if (r <= 0) {
        return;
    }
    int e = errno;
    roar_t_guard++;
    if (!passthrough_fd(in)) {
        roar_fd_count_read(in, (uint64_t)r, in_moves);
    }
    if (!passthrough_fd(out)) {
        roar_fd_count_write_unstreamed(out, (uint64_t)r, DS_CONTENT);
    }
    roar_t_guard--;
    errno = e;
}

AFTER_HOOK(ssize_t, copy_file_range, (int in, off_t *off_in, int out, off_t *off_out, size_t len, unsigned flags),
           (in, off_in, out, off_out, len, flags), -1, r > 0, after_copy(in, out, r, off_in == NULL))
AFTER_HOOK(ssize_t, sendfile, (int out, int in, off_t *offset, size_t count), (out, in, offset, count), -1,
           r > 0, after_copy(in, out, r, offset == NULL))
AFTER_HOOK(ssize_t, sendfile64, (int out, int in, off_t *offset, size_t count), (out, in, offset, count), -1,
           r > 0, after_copy(in, out, r, offset == NULL))

/* ---------------------------------------------------------------------------------------------------------
 * seek, truncate, mmap
 */
REAL_DECL(int, munmap, (void *addr, size_t len), -1);

static void after_seek(int fd, off_t r) {
    if (r < 0 || (unsigned)fd >= ROAR_FD_MAX || !roar_is_desc(roar_fd_peek(fd))) {
        return;
    }
    ROAR_GUARDED(roar_fd_seeked(fd, r));
}

AFTER_HOOK(off_t, lseek, (int fd, off_t off, int whence), (fd, off, whence), -1, 1, after_seek(fd, r))
AFTER_HOOK(off_t, lseek64, (int fd, off_t off, int whence), (fd, off, whence), -1, 1, after_seek(fd, r))

static void after_ftruncate(int fd, int r, off_t len) {
    if (r != 0 || passthrough_fd(fd)) {
        return;
    }
    ROAR_GUARDED(roar_fd_truncated(fd, len));
}

AFTER_HOOK(int, ftruncate, (int fd, off_t len), (fd, len), -1, 1, after_ftruncate(fd, r, len))
AFTER_HOOK(int, ftruncate64, (int fd, off_t len), (fd, len), -1, 1, after_ftruncate(fd, r, len))

static void after_truncate(const char *path, int r, off_t len) {
    if (r != 0) {
        return;
    }
    int e = errno;
    roar_t_guard++;
    char norm[ROAR_PATH_MAX];
    long n = roar_resolve_path(AT_FDCWD, path, norm);
    if (n >= 0 && !roar_path_ignored(norm, (size_t)n)) {
        roar_emit_truncate(norm, len);
    }
    roar_t_guard--;
    errno = e;
}

AFTER_HOOK(int, truncate, (const char *path, off_t len), (path, len), -1, 1, after_truncate(path, r, len))
AFTER_HOOK(int, truncate64, (const char *path, off_t len), (path, len), -1, 1, after_truncate(path, r, len))

static void after_mmap(void *r, size_t len, int prot, int flags, int fd) {
    if (r == MAP_FAILED || fd < 0 || !(prot & PROT_WRITE) || !(flags & MAP_SHARED) || passthrough_fd(fd)) {
        return;
    }
    ROAR_GUARDED(roar_fd_mapped(r, len, fd));
}

AFTER_HOOK(void *, mmap, (void *addr, size_t len, int prot, int flags, int fd, off_t off),
           (addr, len, prot, flags, fd, off), MAP_FAILED, fd >= 0, after_mmap(r, len, prot, flags, fd))
AFTER_HOOK(void *, mmap64, (void *addr, size_t len, int prot, int flags, int fd, off_t off),
           (addr, len, prot, flags, fd, off), MAP_FAILED, fd >= 0, after_mmap(r, len, prot, flags, fd))

ROAR_EXPORT int munmap(void *addr, size_t len) {
    int r = REAL(munmap)(addr, len);
    if (r == 0 && __atomic_load_n(&roar_n_maps, __ATOMIC_ACQUIRE) > 0 && roar_active()) {
        ROAR_GUARDED(roar_fd_unmapped(addr, len));
    }
    return r;
}

/* ---------------------------------------------------------------------------------------------------------
 * Namespace changes
 */
static void record_two(char type, int olddir, const char *oldp, int newdir, const char *newp) {
    int e = errno;
    roar_t_guard++;
    char a[ROAR_PATH_MAX], b[ROAR_PATH_MAX];
    long na = roar_resolve_path(olddir, oldp, a);
    long nb = roar_resolve_path(newdir, newp, b);
    if (na >= 0 && nb >= 0 && !(roar_path_ignored(a, (size_t)na) && roar_path_ignored(b, (size_t)nb))) {
        roar_emit_two_paths(type, a, b);
    }
    roar_t_guard--;
    errno = e;
}

static void record_delete(int dir, const char *path) {
    int e = errno;
    roar_t_guard++;
    char a[ROAR_PATH_MAX];
    long na = roar_resolve_path(dir, path, a);
    if (na >= 0 && !roar_path_ignored(a, (size_t)na)) {
        roar_emit_path_event('D', a);
    }
    roar_t_guard--;
    errno = e;
}

REAL_DECL(int, renameat2, (int od, const char *oldp, int nd, const char *newp, unsigned flags), -1);
REAL_DECL(int, remove, (const char *path), -1);
REAL_DECL(int, chdir, (const char *path), -1);
REAL_DECL(int, fchdir, (int fd), -1);

AFTER_HOOK(int, rename, (const char *oldp, const char *newp), (oldp, newp), -1,
           r == 0, record_two('M', AT_FDCWD, oldp, AT_FDCWD, newp))
AFTER_HOOK(int, renameat, (int od, const char *oldp, int nd, const char *newp), (od, oldp, nd, newp), -1,
           r == 0, record_two('M', od, oldp, nd, newp))

ROAR_EXPORT int renameat2(int od, const char *oldp, int nd, const char *newp, unsigned flags) {
    int r = REAL(renameat2)(od, oldp, nd, newp, flags);
    if (r == 0 && roar_active()) {
        record_two('M', od, oldp, nd, newp);
        if (flags & 2 /* RENAME_EXCHANGE */) {
            record_two('M', nd, newp, od, oldp);
        }
    }
    return r;
}

AFTER_HOOK(int, link, (const char *oldp, const char *newp), (oldp, newp), -1,
           r == 0, record_two('L', AT_FDCWD, oldp, AT_FDCWD, newp))
AFTER_HOOK(int, linkat, (int od, const char *oldp, int nd, const char *newp, int flags), (od, oldp, nd, newp, flags),
           -1, r == 0, record_two('L', od, oldp, nd, newp))
AFTER_HOOK(int, unlink, (const char *path), (path), -1, r == 0, record_delete(AT_FDCWD, path))
AFTER_HOOK(int, unlinkat, (int dir, const char *path, int flags), (dir, path, flags), -1,
           r == 0 && !(flags & AT_REMOVEDIR), record_delete(dir, path))

ROAR_EXPORT int remove(const char *path) {
    int is_dir = 0;
    int active = roar_active();
    if (active) {
        int e = errno;
        struct stat st;
        is_dir = lstat(path, &st) == 0 && S_ISDIR(st.st_mode);
        errno = e;
    }
    int r = REAL(remove)(path);
    if (r == 0 && active && !is_dir) {
        record_delete(AT_FDCWD, path);
    }
    return r;
}

/* The cwd cache is dropped at every successful change, recorded or not: later paths resolve against the new one. */
static int cwd_changed(int r) {
    if (r == 0) {
        int e = errno;
        roar_cwd_invalidate();
        errno = e;
    }
    return r;
}

ROAR_EXPORT int chdir(const char *path) {
    return cwd_changed(REAL(chdir)(path));
}

ROAR_EXPORT int fchdir(int fd) {
    return cwd_changed(REAL(fchdir)(fd));
}
