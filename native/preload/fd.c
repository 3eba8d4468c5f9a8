/*
 * Open file descriptions: the fd table, reference counting across dup/close/mmap, streaming hashes, the
 * F record at the last close, lazy adoption of fds we did not see opened, and the exec handoff (ROAR_FDS).
 *
 * Locking: `roar_table_mu` protects the table, the live list and the mapping list; `refs` only grows under it
 * (a lookup pins a description by taking a reference) and may drop anywhere (atomically); whoever drops the last
 * reference finalises. `d->mu` serialises writes to one description (the streamed hash must see the bytes in
 * file order). Lock order: table, then description, then the background queue, then the spool. Nobody takes the
 * table lock while holding a description.
 *
 * Hashing: writes from offset 0 onwards are streamed into the description's BLAKE3 hasher; large writes (from
 * 32 KiB) switch the description to a background thread that reads the written bytes back from the page cache
 * (on another core) while the program goes on. At the last close the stream is used when it accounts for the
 * whole file (sequential, size matches, no pwrite/mmap/stdio/in-kernel copy); otherwise the file is hashed
 * again from a private fd (`s`).
 */
#include "internal.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdio_ext.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

struct roar_desc *roar_fd_table[ROAR_FD_MAX];
roar_lock_t roar_table_mu = ROAR_LOCK_INIT;
static struct roar_desc *live_head;
static int max_fd_seen = -1; /* highest fd ever installed: bounds the walks */
static int overflow_warned;

#define MAX_MAPS 256
struct roar_map {
    uintptr_t start, end;
    struct roar_desc *d;
};
static struct roar_map maps[MAX_MAPS];
int roar_n_maps;

static void bg_finish(struct roar_desc *d);
static int defer_close(struct roar_desc *d, int fd);

extern void _IO_list_lock(void);
extern void _IO_list_unlock(void);
extern FILE *_IO_list_all; /* glibc: struct _IO_FILE_plus *, whose first member is the FILE */

/* ---------------------------------------------------------------------------------------------------------
 * Descriptions
 */
/* One freed description of the common size is kept for the next open (most programs open and close one file at
 * a time): malloc and free cost more than the rest of the bookkeeping of an open. Taken and given back with
 * atomic exchanges (plain loads and stores while single-threaded). */
#define DESC_SPARE_BYTES 1024
static struct roar_desc *desc_spare;

static struct roar_desc *desc_alloc(size_t bytes, int *spare_class) {
    *spare_class = bytes <= DESC_SPARE_BYTES;
    if (!*spare_class) {
        return malloc(bytes);
    }
    struct roar_desc *d;
    if (ROAR_LIKELY(roar_single_threaded())) {
        d = __atomic_load_n(&desc_spare, __ATOMIC_RELAXED);
        __atomic_store_n(&desc_spare, NULL, __ATOMIC_RELAXED);
    } else {
        d = __atomic_exchange_n(&desc_spare, NULL, __ATOMIC_ACQUIRE);
    }
    return d != NULL ? d : malloc(DESC_SPARE_BYTES);
}

static void desc_free(struct roar_desc *d) {
    if (d->spare_class) {
        if (ROAR_LIKELY(roar_single_threaded())) {
            if (__atomic_load_n(&desc_spare, __ATOMIC_RELAXED) == NULL) {
                __atomic_store_n(&desc_spare, d, __ATOMIC_RELAXED);
                return;
            }
        } else {
            struct roar_desc *none = NULL;
            if (__atomic_compare_exchange_n(&desc_spare, &none, d, 0, __ATOMIC_RELEASE, __ATOMIC_RELAXED)) {
                return;
            }
        }
    }
    free(d);
}

static struct roar_desc *desc_new(const char *path, size_t path_len, uint32_t mode, const char *tag) {
    size_t tl = strlen(tag);
    int spare_class;
    struct roar_desc *d = desc_alloc(sizeof *d + path_len + 1 + tl + 1, &spare_class);
    if (d == NULL) {
        return NULL;
    }
    memset(d, 0, sizeof *d); /* the locks too: unlocked */
    d->spare_class = spare_class;
    d->hfd = -1;
    d->refs = 1;
    d->mode = mode;
    d->state = DS_STREAM_OK;
    d->path_len = path_len;
    memcpy(d->path, path, path_len);
    d->path[path_len] = 0;
    d->tag = d->path + path_len + 1;
    memcpy(d->tag, tag, tl + 1);
    d->tag_len = tl;
    return d;
}

static void live_link_locked(struct roar_desc *d) {
    d->prev = NULL;
    d->next = live_head;
    if (live_head) {
        live_head->prev = d;
    }
    live_head = d;
}

static void live_unlink_locked(struct roar_desc *d) {
    if (d->prev) {
        d->prev->next = d->next;
    } else if (live_head == d) {
        live_head = d->next;
    }
    if (d->next) {
        d->next->prev = d->prev;
    }
    d->next = d->prev = NULL;
}

static uint64_t mtime_ns(const struct stat *st) {
    return (uint64_t)st->st_mtim.tv_sec * 1000000000u + (uint64_t)st->st_mtim.tv_nsec;
}

static void emit_open(const struct roar_desc *d) {
    char letters[8];
    roar_mode_letters(d->mode, letters);
    struct roar_line l;
    roar_line_init(&l, 'O');
    roar_line_str(&l, d->tag);
    roar_line_u64(&l, d->open_ns);
    roar_line_str(&l, letters);
    roar_line_field(&l, d->path, d->path_len);
    roar_line_commit(&l);
}

/* The `hash` field of an F record: "blake3:<hex>". */
#define HASH_FIELD_LEN (7 + 2 * ROAR_BLAKE3_OUT_LEN)
static void hash_field(const uint8_t digest[ROAR_BLAKE3_OUT_LEN], char out[HASH_FIELD_LEN + 1]) {
    memcpy(out, "blake3:", 7);
    roar_blake3_hex(digest, out + 7);
}

static void emit_file_record(const struct roar_desc *d, const char *tag, size_t tag_len, uint64_t close_ns,
                             uint32_t mode, uint64_t dev, uint64_t ino, int64_t size, uint64_t mtime,
                             const char *hash) {
    struct roar_file_record r = {
        .tag = tag,
        .tag_len = tag_len,
        .open_ns = d->open_ns,
        .close_ns = close_ns,
        .mode = mode,
        .bytes_read = __atomic_load_n(&d->bytes_read, __ATOMIC_RELAXED),
        .bytes_written = __atomic_load_n(&d->bytes_written, __ATOMIC_RELAXED),
        .dev = dev,
        .ino = ino,
        .size = size,
        .mtime_ns = mtime,
        .hash = hash,
        .hash_len = hash[0] == '-' ? 1 : HASH_FIELD_LEN,
        .path = d->path,
        .path_len = d->path_len,
    };
    roar_emit_file(&r);
}

/* Writes the F record of a description nobody references any more. `fd` is an fd still open on it, or -1. */
static void finalise(struct roar_desc *d, int fd) {
    uint32_t state = __atomic_load_n(&d->state, __ATOMIC_ACQUIRE);
    uint32_t mode = __atomic_load_n(&d->mode, __ATOMIC_ACQUIRE);
    if (state & (DS_DIR | DS_FINAL)) {
        return;
    }
    uint64_t br = __atomic_load_n(&d->bytes_read, __ATOMIC_RELAXED);
    uint64_t bw = __atomic_load_n(&d->bytes_written, __ATOMIC_RELAXED);
    int inherited = (state & DS_INHERITED) != 0;
    if (inherited && br == 0 && bw == 0 && !(state & (DS_STDIO | DS_CONTENT))) {
        return; /* the parent writes the record of what it opened */
    }
    if (inherited) {
        mode &= ~(uint32_t)(DM_C | DM_T);
    }
    if ((state & DS_ADOPTED) && !(mode & DM_W) && br == 0) {
        return;
    }
    uint64_t close_ns = roar_now_ns();
    const char *tag = inherited ? roar_current_tag() : d->tag;
    int writable = (mode & DM_W) != 0;

    uint64_t dev = d->dev, ino = d->ino, mtime = d->mtime0;
    int64_t size = d->size0;
    char hash[HASH_FIELD_LEN + 1] = "-";
    if (writable) {
        /* The version this open produced: stat and hash it now. */
        int own = -1; /* a private read-only fd: by path when ours is gone, /proc/self/fd/N to re-read */
        struct stat st;
        int have = fd >= 0 && roar_sys_fstat(fd, &st) == 0;
        if (!have) {
            own = (int)roar_sys_open(d->path, O_RDONLY | O_CLOEXEC, 0);
            have = own >= 0 && roar_sys_fstat(own, &st) == 0 && (uint64_t)st.st_dev == d->dev &&
                   (uint64_t)st.st_ino == d->ino;
            if (!have && own >= 0) {
                roar_sys_close(own); /* renamed over or deleted since: not the file we wrote */
                own = -1;
            }
        }
        if (have) {
            dev = st.st_dev;
            ino = st.st_ino;
            size = st.st_size;
            mtime = mtime_ns(&st);
        }
        int changed = have && (size != d->size0 || mtime != d->mtime0);
        if ((state & DS_ADOPTED) && bw == 0 && br == 0 && !changed && !(mode & DM_M) &&
            !(state & (DS_STDIO | DS_CONTENT))) {
            if (own >= 0) {
                roar_sys_close(own);
            }
            return; /* an inherited stdout this image never used */
        }
        int wrote = bw > 0 || (mode & (DM_C | DM_T | DM_M)) || changed || (state & (DS_STDIO | DS_CONTENT));
        if (wrote) {
            uint8_t digest[ROAR_BLAKE3_OUT_LEN];
            int ok = 0;
            int streamed = (state & DS_STREAM_OK) && !(state & (DS_STDIO | DS_CONTENT | DS_SHARED)) &&
                           !(mode & DM_M) && !inherited && have && (int64_t)d->stream_len == size &&
                           d->hashed_len == d->stream_len;
            if (streamed) {
                if (d->hasher) {
                    roar_blake3_finalize(d->hasher, digest);
                } else {
                    roar_blake3_hash("", 0, digest);
                }
                ok = 1;
            } else {
                mode |= DM_S;
                roar_count(RC_REHASH);
                if (own < 0 && fd >= 0) {
                    char proc[ROAR_PROC_FD_PATH_MAX];
                    roar_proc_fd_path(fd, proc);
                    own = (int)roar_sys_open(proc, O_RDONLY | O_CLOEXEC, 0);
                }
                int hfd = own >= 0 ? own : ((mode & DM_R) ? fd : -1);
                /* pread, never a mapping: inside the traced program a file truncated meanwhile (or a
                 * read error on an uncached page) would raise SIGBUS in the user's process. */
                if (have && hfd >= 0 && roar_blake3_hash_fd_ex(hfd, 1, ROAR_BLAKE3_FD_PREAD, digest) == 0) {
                    ok = 1;
                } else {
                    roar_count(RC_REHASH_FAILED);
                    roar_emit_warning("rehash-failed", d->path);
                }
            }
            if (ok) {
                hash_field(digest, hash);
            }
        }
        if (own >= 0) {
            roar_sys_close(own);
        }
    }

    emit_file_record(d, tag, inherited ? strlen(tag) : d->tag_len, close_ns, mode, dev, ino, size, mtime, hash);
}

/* The last reference is gone: finalise and free. `unlinked`: already off the live list. `may_defer`: the caller
 * is close(), which calls roar_fd_close_end after the real close. */
static void release_desc(struct roar_desc *d, int fd, int unlinked, int may_defer) {
    if (!unlinked) {
        roar_lock(&roar_table_mu);
        live_unlink_locked(d);
        roar_unlock(&roar_table_mu);
    }
    roar_t_guard++;
    if (may_defer && defer_close(d, fd)) {
        roar_t_guard--;
        return;
    }
    if (__atomic_load_n(&d->bg, __ATOMIC_ACQUIRE)) {
        bg_finish(d);
    }
    finalise(d, fd);
    roar_t_guard--;
    free(d->hasher);
    desc_free(d);
}

static void release(struct roar_desc *d, int fd) {
    release_desc(d, fd, 0, 0);
}

static void unref(struct roar_desc *d, int fd) {
    if (__atomic_sub_fetch(&d->refs, 1, __ATOMIC_ACQ_REL) == 0) {
        release(d, fd);
    }
}

/* Puts `d` (a description or a sentinel) at fd; returns what was there (the caller unrefs a description). */
static struct roar_desc *install_locked(int fd, struct roar_desc *d) {
    struct roar_desc *old = roar_fd_table[fd];
    __atomic_store_n(&roar_fd_table[fd], d, __ATOMIC_RELEASE);
    if (fd > max_fd_seen) {
        max_fd_seen = fd;
    }
    if (roar_is_desc(d)) {
        live_link_locked(d);
    }
    return old;
}

static int fd_in_range(int fd) {
    if (fd < 0) {
        return 0;
    }
    if (fd >= ROAR_FD_MAX) {
        roar_count(RC_FD_OVERFLOW);
        if (!__atomic_exchange_n(&overflow_warned, 1, __ATOMIC_RELAXED)) {
            roar_emit_warning("fd-overflow", "descriptors above the tracked range are not recorded");
        }
        return 0;
    }
    return 1;
}

void roar_fd_mark(int fd, struct roar_desc *sentinel) {
    if (!fd_in_range(fd)) {
        return;
    }
    /* Fast path, no lock: the slot holds no description (nothing to release, nothing a reader could pin). */
    struct roar_desc *cur = roar_fd_peek(fd);
    if (!roar_is_desc(cur) &&
        __atomic_compare_exchange_n(&roar_fd_table[fd], &cur, sentinel, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
        if (fd > __atomic_load_n(&max_fd_seen, __ATOMIC_RELAXED)) {
            roar_lock(&roar_table_mu);
            if (fd > max_fd_seen) {
                max_fd_seen = fd;
            }
            roar_unlock(&roar_table_mu);
        }
        return;
    }
    roar_lock(&roar_table_mu);
    struct roar_desc *old = install_locked(fd, sentinel);
    roar_unlock(&roar_table_mu);
    if (roar_is_desc(old)) {
        unref(old, -1);
    }
}

static void install(int fd, struct roar_desc *d) {
    roar_lock(&roar_table_mu);
    struct roar_desc *old = install_locked(fd, d);
    roar_unlock(&roar_table_mu);
    if (roar_is_desc(old)) {
        unref(old, -1); /* closed behind our back: its fd is gone */
    }
}

static uint32_t mode_from_flags(int flags) {
    uint32_t m = 0;
    switch (flags & O_ACCMODE) {
    case O_RDONLY:
        m = DM_R;
        break;
    case O_WRONLY:
        m = DM_W;
        break;
    default:
        m = DM_R | DM_W;
        break;
    }
    if (flags & O_APPEND) {
        m |= DM_A;
    }
    if (flags & O_CREAT) {
        m |= DM_C;
    }
    if (flags & O_TRUNC) {
        m |= DM_T;
    }
    return m;
}

static void set_stat(struct roar_desc *d, const struct stat *st) {
    d->dev = st->st_dev;
    d->ino = st->st_ino;
    d->size0 = st->st_size;
    d->mtime0 = mtime_ns(st);
    if ((d->mode & DM_A) && st->st_size > 0) {
        d->state &= ~(uint32_t)DS_STREAM_OK; /* appending to existing content: hash the file at close */
    }
}

void roar_fd_opened(int fd, const char *path, size_t path_len, int flags, int ignored) {
    if (!fd_in_range(fd)) {
        return;
    }
    if (ignored) {
        roar_count(RC_IGNORED);
        roar_fd_mark(fd, ROAR_D_IGNORED);
        return;
    }
    struct stat st;
    if (roar_sys_fstat(fd, &st) != 0) {
        roar_fd_mark(fd, ROAR_D_NONREG);
        return;
    }
    if (!S_ISREG(st.st_mode)) {
        roar_count(RC_NON_REGULAR);
        if (S_ISDIR(st.st_mode) && path != NULL) {
            struct roar_desc *d = desc_new(path, path_len, 0, "");
            if (d) {
                d->state = DS_DIR;
                install(fd, d);
                return;
            }
        }
        roar_fd_mark(fd, ROAR_D_NONREG);
        return;
    }
    if ((flags & O_PATH) || path == NULL) {
        roar_fd_mark(fd, ROAR_D_IGNORED);
        return;
    }
    struct roar_desc *d = desc_new(path, path_len, mode_from_flags(flags), roar_current_tag());
    if (d == NULL) {
        roar_count(RC_UNTRACKED_FD);
        roar_fd_mark(fd, ROAR_D_IGNORED);
        return;
    }
    d->open_ns = roar_now_ns();
    set_stat(d, &st);
    install(fd, d);
    if (d->mode & DM_W) {
        emit_open(d);
    }
}

/* An fd we never saw opened (opened before exec by an untraced parent, by libc internally, or by a raw
 * syscall): identify its file and track it from now on. */
static void adopt_fd(int fd, int at_start) {
    struct stat st;
    if (roar_sys_fstat(fd, &st) != 0) {
        return; /* not open: the real call fails with EBADF */
    }
    if (!S_ISREG(st.st_mode)) {
        roar_fd_mark(fd, ROAR_D_NONREG);
        return;
    }
    char proc[ROAR_PROC_FD_PATH_MAX];
    char link[ROAR_PATH_MAX];
    roar_proc_fd_path(fd, proc);
    long n = roar_sys_readlink(proc, link, sizeof link - 1);
    static const char deleted[] = " (deleted)";
    if (n <= 0 || link[0] != '/' ||
        ((size_t)n >= sizeof deleted - 1 && memcmp(link + n - (sizeof deleted - 1), deleted, sizeof deleted - 1) == 0)) {
        roar_count(RC_UNTRACKED_FD);
        roar_fd_mark(fd, ROAR_D_IGNORED);
        return;
    }
    link[n] = 0;
    if (roar_path_ignored(link, (size_t)n)) {
        roar_count(RC_IGNORED);
        roar_fd_mark(fd, ROAR_D_IGNORED);
        return;
    }
    long fl = roar_sys_fcntl(fd, F_GETFL, 0);
    struct roar_desc *d = desc_new(link, (size_t)n, mode_from_flags((int)(fl < 0 ? 0 : fl) & ~(O_CREAT | O_TRUNC)),
                                   roar_current_tag());
    if (d == NULL) {
        roar_fd_mark(fd, ROAR_D_IGNORED);
        return;
    }
    d->open_ns = roar_now_ns();
    d->state |= DS_ADOPTED;
    set_stat(d, &st);
    if ((d->mode & DM_W) && roar_sys_lseek(fd, 0, SEEK_CUR) != 0) {
        d->state &= ~(uint32_t)DS_STREAM_OK;
    }
    roar_lock(&roar_table_mu);
    int won = roar_fd_table[fd] == NULL;
    if (won) {
        install_locked(fd, d);
    }
    roar_unlock(&roar_table_mu);
    if (!won) {
        desc_free(d);
        return;
    }
    roar_count(RC_ADOPTED);
    if (d->mode & DM_W) {
        if (at_start) {
            __atomic_fetch_or(&d->state, DS_NEED_O, __ATOMIC_RELEASE); /* most inherited stdouts stay unused */
        } else {
            emit_open(d);
        }
    }
}

static void adopt(int fd) {
    adopt_fd(fd, 0);
}

/* The first write on a description adopted at start writes its O record. */
static void maybe_emit_open(struct roar_desc *d) {
    if (ROAR_UNLIKELY(__atomic_load_n(&d->state, __ATOMIC_ACQUIRE) & DS_NEED_O) &&
        (__atomic_fetch_and(&d->state, ~(uint32_t)DS_NEED_O, __ATOMIC_ACQ_REL) & DS_NEED_O)) {
        emit_open(d);
    }
}

void roar_fd_adopt_std(void) {
    for (int fd = 0; fd <= 2; fd++) {
        if (roar_fd_peek(fd) == NULL) {
            adopt_fd(fd, 1);
        }
    }
}

void roar_fd_adopt_if_unknown(int fd) {
    if (fd >= 0 && fd < ROAR_FD_MAX && roar_fd_peek(fd) == NULL) {
        adopt(fd);
    }
}

/* Pins the description at fd (takes a reference) or returns NULL. */
static struct roar_desc *pin(int fd) {
    if (fd < 0 || fd >= ROAR_FD_MAX) {
        return NULL;
    }
    struct roar_desc *d = roar_fd_peek(fd);
    if (d == NULL) {
        adopt(fd);
        d = roar_fd_peek(fd);
    }
    if (!roar_is_desc(d)) {
        return NULL;
    }
    roar_lock(&roar_table_mu);
    d = roar_fd_table[fd];
    if (roar_is_desc(d) && !(d->state & DS_DIR)) {
        __atomic_add_fetch(&d->refs, 1, __ATOMIC_RELAXED);
    } else {
        d = NULL;
    }
    roar_unlock(&roar_table_mu);
    return d;
}

struct roar_desc *roar_fd_lock_for_write(int fd) {
    struct roar_desc *d = pin(fd);
    if (d == NULL) {
        return NULL;
    }
    if (!(d->mode & DM_W)) {
        /* a write on a read-only description fails; nothing to record */
        unref(d, -1);
        return NULL;
    }
    roar_lock(&d->mu);
    maybe_emit_open(d);
    return d;
}

void roar_fd_unlock_write(struct roar_desc *d) {
    roar_unlock(&d->mu);
    unref(d, -1);
}

/* ---------------------------------------------------------------------------------------------------------
 * Background hashing. Hashing costs about as much CPU as the write itself; for large sequential writes the
 * writing thread only counts bytes and one library thread reads them back from the page cache and hashes them,
 * on another core.
 *
 * Deferred closes: at the last close() of such a description the thread is usually still behind. Instead of
 * waiting for it, close() takes the version (fstat) and, right after the real close, a read lease on the
 * thread's private fd: from then on nobody can open the file for writing or truncate it without first waiting for
 * us (fs.lease-break-time), so the bytes the thread still reads are the version's. The thread finishes the hash and
 * writes the F record, with the close's tag and times (readers order records by time, not by position). A large
 * file that has to be hashed again (pwrite, mmap, ...: the stream does not describe it) is left to the thread the
 * same way, from DEFER_REHASH_MIN bytes. Renames
 * and unlinks do not disturb it: the fd holds the inode. Exit, exec and roar_stop_recording wait for these
 * (roar_fd_settle). Without a lease (the file is open for writing elsewhere, is not ours, leases are off) or
 * with MAX_DEFERRED pending, close() finishes the hash itself as before. A process killed meanwhile loses the
 * F record; its O record makes the reader hash the file as found.
 */
#define BG_MIN_WRITE (32 * 1024)
#define BG_BATCH (1024 * 1024)
#define MAX_DEFERRED 32
#define DEFER_REHASH_MIN (1024 * 1024) /* smaller files are hashed again in close() itself */

static pthread_mutex_t bg_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t bg_cond = PTHREAD_COND_INITIALIZER;  /* work queued */
static pthread_cond_t bg_idle = PTHREAD_COND_INITIALIZER;  /* bg_current or deferred_n changed */
static struct roar_desc *bg_queue[64];
static int bg_n;
static struct roar_desc *deferred[MAX_DEFERRED]; /* closed, hash not finished (under bg_mu) */
static int deferred_n;
static int closes_pending; /* deferred closes whose F record is not written yet (under bg_mu) */
static struct roar_desc *bg_current;
static int bg_started;
static char *bg_buf; /* BG_BATCH bytes, the thread's */
static ROAR_TLS struct roar_desc *t_closing; /* deferred by this thread's close(), until roar_fd_close_end */

/* Hashes [hashed_len, upto) of d through its private fd. Under d->hash_mu. Returns 0, or -1 when the file is
 * not what we think (then the hash is recomputed at close). */
static int bg_hash_range(struct roar_desc *d, uint64_t upto, char *buf, size_t cap) {
    struct stat st;
    if (roar_sys_fstat(d->hfd, &st) != 0 || (uint64_t)st.st_dev != d->dev || (uint64_t)st.st_ino != d->ino) {
        return -1; /* our fd was closed (and maybe reused) behind our back */
    }
    while (d->hashed_len < upto) {
        size_t want = upto - d->hashed_len < cap ? (size_t)(upto - d->hashed_len) : cap;
        long n = syscall(SYS_pread64, d->hfd, buf, want, (off_t)d->hashed_len);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return -1;
        }
        roar_blake3_update(d->hasher, buf, (size_t)n);
        d->hashed_len += (uint64_t)n;
    }
    return 0;
}

static void bg_remove_locked(struct roar_desc *d) {
    for (int i = 0; i < bg_n; i++) {
        if (bg_queue[i] == d) {
            bg_queue[i] = bg_queue[--bg_n];
            break;
        }
    }
    __atomic_store_n(&d->queued, 0, __ATOMIC_SEQ_CST);
}

/* Under bg_mu: a description with bytes to hash, or (*done set) a closed one whose hash is complete. */
static struct roar_desc *bg_next_locked(int *done) {
    *done = 0;
    if (deferred_n > 0) { /* closed files first: a writer may be waiting on the lease */
        struct roar_desc *c = deferred[0];
        if ((__atomic_load_n(&c->state, __ATOMIC_ACQUIRE) & DS_STREAM_OK) && c->stream_len > c->hashed_len) {
            return c;
        }
        deferred[0] = deferred[--deferred_n]; /* closes_pending counts it until its F record is out */
        *done = 1;
        return c;
    }
    for (int i = 0; i < bg_n; i++) {
        struct roar_desc *c = bg_queue[i];
        if (!(__atomic_load_n(&c->state, __ATOMIC_ACQUIRE) & DS_STREAM_OK)) {
            bg_remove_locked(c); /* not sequential any more: recomputed at close */
            i--;
            continue;
        }
        if (__atomic_load_n(&c->stream_len, __ATOMIC_SEQ_CST) > c->hashed_len) {
            return c;
        }
        /* caught up: leave the queue, then look again (a write may have just been counted) */
        __atomic_store_n(&c->queued, 0, __ATOMIC_SEQ_CST);
        if (__atomic_load_n(&c->stream_len, __ATOMIC_SEQ_CST) > c->hashed_len) {
            __atomic_store_n(&c->queued, 1, __ATOMIC_SEQ_CST);
            return c;
        }
        bg_queue[i] = bg_queue[--bg_n];
        i--;
    }
    return NULL;
}

static void finish_deferred(struct roar_desc *d, char *buf, size_t cap);

static void *bg_main(void *arg) {
    roar_t_guard = 1; /* nothing this thread does is traced */
    pthread_mutex_lock(&bg_mu);
    for (;;) {
        int done;
        struct roar_desc *d;
        while ((d = bg_next_locked(&done)) == NULL) {
            pthread_cond_wait(&bg_cond, &bg_mu);
        }
        bg_current = d;
        pthread_mutex_unlock(&bg_mu);

        if (done) {
            finish_deferred(d, bg_buf, BG_BATCH);
        } else {
            roar_lock(&d->hash_mu);
            uint64_t target = __atomic_load_n(&d->stream_len, __ATOMIC_SEQ_CST);
            if (target > d->hashed_len + BG_BATCH * 4) {
                target = d->hashed_len + BG_BATCH * 4; /* let other files have a turn */
            }
            if (bg_hash_range(d, target, bg_buf, BG_BATCH) != 0) {
                __atomic_and_fetch(&d->state, ~(uint32_t)DS_STREAM_OK, __ATOMIC_RELEASE);
            }
            roar_unlock(&d->hash_mu);
        }

        pthread_mutex_lock(&bg_mu);
        bg_current = NULL;
        if (done) {
            closes_pending--;
        }
        pthread_cond_broadcast(&bg_idle);
    }
    return arg;
}

/* Switch d to background hashing (under d->mu, hasher == stream_len). 0 when that is not possible. */
static int bg_enable(struct roar_desc *d, int fd) {
    char proc[ROAR_PROC_FD_PATH_MAX];
    roar_proc_fd_path(fd, proc);
    long hfd = roar_sys_open(proc, O_RDONLY | O_CLOEXEC, 0);
    if (hfd < 0) {
        return 0;
    }
    hfd = roar_fd_move_high((int)hfd);
    pthread_mutex_lock(&bg_mu);
    if (!bg_started) {
        bg_buf = malloc(BG_BATCH);
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setstacksize(&attr, 256 * 1024);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        sigset_t all, old;
        sigfillset(&all);
        pthread_sigmask(SIG_SETMASK, &all, &old); /* the thread starts with every signal blocked */
        pthread_t t;
        roar_t_guard++;
        if (bg_buf != NULL && pthread_create(&t, &attr, bg_main, NULL) == 0) {
            bg_started = 1;
        }
        roar_t_guard--;
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        pthread_attr_destroy(&attr);
    }
    int ok = bg_started && bg_n < (int)(sizeof bg_queue / sizeof bg_queue[0]);
    pthread_mutex_unlock(&bg_mu);
    if (!ok) {
        roar_sys_close((int)hfd);
        return 0;
    }
    roar_lock(&d->hash_mu);
    d->hfd = (int)hfd;
    d->hashed_len = d->stream_len;
    roar_unlock(&d->hash_mu);
    __atomic_store_n(&d->bg, 1, __ATOMIC_RELEASE);
    return 1;
}

static void bg_notify(struct roar_desc *d) {
    if (__atomic_load_n(&d->queued, __ATOMIC_SEQ_CST)) {
        return;
    }
    pthread_mutex_lock(&bg_mu);
    if (!d->queued && bg_n < (int)(sizeof bg_queue / sizeof bg_queue[0])) {
        bg_queue[bg_n++] = d;
        __atomic_store_n(&d->queued, 1, __ATOMIC_SEQ_CST);
        pthread_cond_signal(&bg_cond);
    }
    pthread_mutex_unlock(&bg_mu);
}

/* Takes d off the queue and waits until the thread is not working on it. */
static void bg_detach(struct roar_desc *d) {
    pthread_mutex_lock(&bg_mu);
    bg_remove_locked(d);
    while (bg_current == d) {
        pthread_cond_wait(&bg_idle, &bg_mu);
    }
    pthread_mutex_unlock(&bg_mu);
}

/* Before the F record: take d off the queue, wait for the thread to leave it, hash the rest here. */
static void bg_finish(struct roar_desc *d) {
    if (!__atomic_load_n(&d->bg, __ATOMIC_ACQUIRE)) {
        return;
    }
    bg_detach(d);
    roar_lock(&d->hash_mu);
    if (__atomic_load_n(&d->state, __ATOMIC_ACQUIRE) & DS_STREAM_OK) {
        char buf[16384];
        if (bg_hash_range(d, d->stream_len, buf, sizeof buf) != 0) {
            __atomic_and_fetch(&d->state, ~(uint32_t)DS_STREAM_OK, __ATOMIC_RELEASE);
        }
    }
    roar_sys_close(d->hfd);
    d->hfd = -1;
    roar_unlock(&d->hash_mu);
}

/* The last close() of a written description (before the real close): take the version now and leave the rest of
 * the hash to the thread (see the top of this section), when the thread is behind on the stream, or when the file
 * must be hashed again (pwrite, mmap, ...) and is large. 1 when deferred: roar_fd_close_end goes on. */
static int defer_close(struct roar_desc *d, int fd) {
    uint32_t state = __atomic_load_n(&d->state, __ATOMIC_ACQUIRE);
    uint32_t mode = __atomic_load_n(&d->mode, __ATOMIC_ACQUIRE);
    if (!(mode & DM_W) || fd < 0 || (state & (DS_INHERITED | DS_ADOPTED | DS_FINAL | DS_DIR)) ||
        __atomic_load_n(&closes_pending, __ATOMIC_RELAXED) >= MAX_DEFERRED) {
        return 0;
    }
    struct stat st;
    if (roar_sys_fstat(fd, &st) != 0) {
        return 0;
    }
    int streamed = (state & DS_STREAM_OK) && !(state & (DS_STDIO | DS_CONTENT | DS_SHARED)) && !(mode & DM_M);
    if (streamed) {
        /* A glance, not under hash_mu (the thread may hold it for a whole batch): only the thread advances it. */
        if (!d->bg || __atomic_load_n(&d->hashed_len, __ATOMIC_RELAXED) >= d->stream_len ||
            (uint64_t)st.st_size != d->stream_len) {
            return 0; /* nothing left to wait for, or the stream does not cover the file: finalise decides */
        }
    } else {
        int changed = st.st_size != d->size0 || mtime_ns(&st) != d->mtime0;
        int wrote = __atomic_load_n(&d->bytes_written, __ATOMIC_RELAXED) > 0 || (mode & (DM_C | DM_T | DM_M)) ||
                    changed || (state & (DS_STDIO | DS_CONTENT));
        if (!wrote || st.st_size < DEFER_REHASH_MIN || (!d->bg && !bg_enable(d, fd))) {
            return 0;
        }
        __atomic_and_fetch(&d->state, ~(uint32_t)DS_STREAM_OK, __ATOMIC_RELEASE); /* the thread rehashes it */
    }
    d->close_ns = roar_now_ns();
    d->final_size = st.st_size;
    d->final_mtime = mtime_ns(&st);
    t_closing = d;
    return 1;
}

void roar_fd_close_end(void) {
    struct roar_desc *d = t_closing;
    if (d == NULL) {
        return;
    }
    t_closing = NULL;
    int e = errno;
    roar_t_guard++;
    /* Our fd is closed: with no other writer the lease can be had. The version must still be the one of the close
     * (nobody slipped in between). */
    struct stat st;
    int leased = roar_blake3_lease_take(d->hfd) == 0;
    int ok = leased && roar_sys_fstat(d->hfd, &st) == 0 && st.st_size == d->final_size &&
             mtime_ns(&st) == d->final_mtime;
    if (ok) {
        pthread_mutex_lock(&bg_mu);
        ok = deferred_n < MAX_DEFERRED;
        if (ok) {
            bg_remove_locked(d);
            d->closed = 1;
            deferred[deferred_n++] = d;
            closes_pending++;
            pthread_cond_signal(&bg_cond);
        }
        pthread_mutex_unlock(&bg_mu);
    }
    if (ok) {
        roar_count(RC_CLOSE_DEFERRED);
    } else {
        if (leased) {
            roar_blake3_lease_drop(d->hfd);
        }
        bg_detach(d);
        char buf[16384];
        finish_deferred(d, buf, sizeof buf);
    }
    roar_t_guard--;
    errno = e;
}

/* Hashes what is left, writes the F record of the version taken at close, lets go of the file and frees d. On
 * the thread, or in close() when the digest could not be deferred after all. */
static void finish_deferred(struct roar_desc *d, char *buf, size_t cap) {
    uint32_t mode = __atomic_load_n(&d->mode, __ATOMIC_ACQUIRE);
    roar_lock(&d->hash_mu);
    int streamed = (__atomic_load_n(&d->state, __ATOMIC_ACQUIRE) & DS_STREAM_OK) &&
                   bg_hash_range(d, d->stream_len, buf, cap) == 0;
    roar_unlock(&d->hash_mu);
    /* Still the version of the close? The lease kept writers out (unless one waited longer than
     * fs.lease-break-time); what it cannot stop (an O_RDONLY|O_TRUNC open) changes size and mtime. */
    struct stat st;
    int same = roar_sys_fstat(d->hfd, &st) == 0 && st.st_size == d->final_size && mtime_ns(&st) == d->final_mtime;
    char hash[HASH_FIELD_LEN + 1] = "-";
    uint8_t digest[ROAR_BLAKE3_OUT_LEN];
    if (streamed && same) {
        roar_blake3_finalize(d->hasher, digest);
        hash_field(digest, hash);
    } else if (same && roar_blake3_hash_fd_ex(d->hfd, 1, ROAR_BLAKE3_FD_PREAD, digest) == 0) {
        mode |= DM_S;
        roar_count(RC_REHASH);
        hash_field(digest, hash);
    } else {
        roar_count(RC_REHASH_FAILED);
        roar_emit_warning("rehash-failed", d->path);
    }
    emit_file_record(d, d->tag, d->tag_len, d->close_ns, mode, d->dev, d->ino, d->final_size, d->final_mtime, hash);
    /* Written now: the program may have flushed at the close (a Ray task's end) and be killed before its next. */
    roar_spool_flush();
    roar_blake3_lease_drop(d->hfd); /* explicitly: a fork child may still hold a copy of the fd */
    roar_sys_close(d->hfd);
    d->hfd = -1;
    free(d->hasher);
    desc_free(d);
}

void roar_fd_settle(void) {
    if (!__atomic_load_n(&bg_started, __ATOMIC_ACQUIRE) || (pid_t)syscall(SYS_getpid) != roar_g.pid) {
        return; /* no thread, or a vfork child (the parent's thread goes on without it) */
    }
    pthread_mutex_lock(&bg_mu);
    while (closes_pending > 0) {
        pthread_cond_wait(&bg_idle, &bg_mu);
    }
    pthread_mutex_unlock(&bg_mu);
}

static void bg_atfork_prepare(void) {
    pthread_mutex_lock(&bg_mu);
}

static void bg_atfork_parent(void) {
    pthread_mutex_unlock(&bg_mu);
}

/* The child has no hashing thread: its (inherited) descriptions are never streamed. */
static void bg_atfork_child(void) {
    pthread_mutex_init(&bg_mu, NULL);
    pthread_cond_init(&bg_cond, NULL);
    pthread_cond_init(&bg_idle, NULL);
    bg_n = 0;
    /* The parent's deferred closes are the parent's: our copies of their fds go (the lease stays with the
     * parent's), their records are not ours to write. */
    for (int i = 0; i < deferred_n; i++) {
        roar_sys_close(deferred[i]->hfd);
    }
    if (bg_current != NULL && bg_current->closed) {
        roar_sys_close(bg_current->hfd);
    }
    deferred_n = 0;
    closes_pending = 0;
    bg_current = NULL;
    bg_started = 0;
    free(bg_buf);
    bg_buf = NULL;
    for (struct roar_desc *d = live_head; d; d = d->next) {
        roar_lock_reset(&d->hash_mu);
        if (d->bg && d->hfd >= 0) {
            roar_sys_close(d->hfd);
        }
        d->hfd = -1;
        d->bg = 0;
        d->queued = 0;
        d->state &= ~(uint32_t)DS_STREAM_OK;
    }
}

void roar_fd_stream(struct roar_desc *d, int fd, const void *buf, size_t n) {
    __atomic_add_fetch(&d->bytes_written, n, __ATOMIC_RELAXED);
    if (!(__atomic_load_n(&d->state, __ATOMIC_ACQUIRE) & DS_STREAM_OK)) {
        return;
    }
    if (d->hasher == NULL) {
        d->hasher = malloc(sizeof *d->hasher);
        if (d->hasher == NULL) {
            __atomic_and_fetch(&d->state, ~(uint32_t)DS_STREAM_OK, __ATOMIC_RELEASE);
            return;
        }
        roar_blake3_init(d->hasher);
    }
    if (d->bg || (n >= BG_MIN_WRITE && bg_enable(d, fd))) {
        __atomic_store_n(&d->stream_len, d->stream_len + n, __ATOMIC_SEQ_CST);
        bg_notify(d);
        return;
    }
    roar_blake3_update(d->hasher, buf, n);
    d->hashed_len += n;
    __atomic_store_n(&d->stream_len, d->stream_len + n, __ATOMIC_RELAXED);
}

void roar_fd_count_read(int fd, uint64_t n, int moves_offset) {
    if (fd < 0 || fd >= ROAR_FD_MAX) {
        return;
    }
    struct roar_desc *d = roar_fd_peek(fd);
    if (d == NULL) {
        adopt(fd);
        d = roar_fd_peek(fd);
    }
    if (!roar_is_desc(d)) {
        return;
    }
    if (ROAR_LIKELY(roar_single_threaded())) {
        /* No other thread can close fd meanwhile (signal handlers on this one find the hooks guarded): d stays. */
        if (!(d->state & DS_DIR)) {
            roar_add_u64(&d->bytes_read, n);
            if (moves_offset && n > 0 && (d->mode & DM_W) && !(d->mode & DM_A)) {
                __atomic_and_fetch(&d->state, ~(uint32_t)DS_STREAM_OK, __ATOMIC_RELEASE);
            }
        }
        return;
    }
    /* No pin: while the slot holds d under the table lock, its reference keeps d alive, and only atomic
     * updates are made (cheaper than taking and dropping a reference). */
    roar_lock(&roar_table_mu);
    d = roar_fd_table[fd];
    if (roar_is_desc(d) && !(d->state & DS_DIR)) {
        __atomic_add_fetch(&d->bytes_read, n, __ATOMIC_RELAXED);
        if (moves_offset && n > 0 && (d->mode & DM_W) && !(d->mode & DM_A)) {
            /* reading moves the offset the next write() lands at */
            __atomic_and_fetch(&d->state, ~(uint32_t)DS_STREAM_OK, __ATOMIC_RELEASE);
        }
    }
    roar_unlock(&roar_table_mu);
}

void roar_fd_count_write_unstreamed(int fd, uint64_t n, uint32_t extra_state) {
    struct roar_desc *d = pin(fd);
    if (d == NULL) {
        return;
    }
    if (d->mode & DM_W) {
        maybe_emit_open(d);
        __atomic_add_fetch(&d->bytes_written, n, __ATOMIC_RELAXED);
        uint32_t old = __atomic_fetch_or(&d->state, extra_state, __ATOMIC_RELEASE);
        if ((extra_state & DS_STDIO) && !(old & DS_STDIO)) {
            roar_count(RC_STDIO);
        }
    }
    unref(d, -1);
}

void roar_fd_seeked(int fd, int64_t result) {
    if (fd < 0 || fd >= ROAR_FD_MAX || !roar_is_desc(roar_fd_peek(fd))) {
        return;
    }
    struct roar_desc *d = pin(fd);
    if (d == NULL) {
        return;
    }
    if ((d->mode & DM_W) && !(d->mode & DM_A) &&
        (uint64_t)result != __atomic_load_n(&d->stream_len, __ATOMIC_RELAXED)) {
        __atomic_and_fetch(&d->state, ~(uint32_t)DS_STREAM_OK, __ATOMIC_RELEASE);
    }
    unref(d, -1);
}

void roar_fd_truncated(int fd, int64_t length) {
    struct roar_desc *d = pin(fd);
    if (d == NULL) {
        return;
    }
    if (d->mode & DM_W) {
        uint32_t st = __atomic_load_n(&d->state, __ATOMIC_ACQUIRE);
        if (!((st & DS_STREAM_OK) && (uint64_t)length == __atomic_load_n(&d->stream_len, __ATOMIC_RELAXED))) {
            __atomic_fetch_or(&d->state, DS_CONTENT, __ATOMIC_RELEASE);
        }
    }
    unref(d, -1);
}

static void closing(int fd, int may_defer) {
    if (fd < 0 || fd >= ROAR_FD_MAX) {
        return;
    }
    struct roar_desc *cur = roar_fd_peek(fd);
    if (cur == NULL) {
        return;
    }
    if (!roar_is_desc(cur) &&
        __atomic_compare_exchange_n(&roar_fd_table[fd], &cur, NULL, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
        return; /* a sentinel: nothing to release */
    }
    roar_lock(&roar_table_mu);
    struct roar_desc *d = roar_fd_table[fd];
    __atomic_store_n(&roar_fd_table[fd], NULL, __ATOMIC_RELEASE);
    /* References only grow under this lock: 1 means the slot we just cleared was the last one. */
    int last = roar_is_desc(d) && __atomic_load_n(&d->refs, __ATOMIC_ACQUIRE) == 1;
    if (last) {
        d->refs = 0;
        live_unlink_locked(d);
    }
    roar_unlock(&roar_table_mu);
    if (last) {
        release_desc(d, fd, 1, may_defer);
    } else if (roar_is_desc(d)) {
        unref(d, fd);
    }
}

void roar_fd_closing(int fd) {
    closing(fd, 0);
}

void roar_fd_close_begin(int fd) {
    closing(fd, 1);
}

void roar_fd_dup(int oldfd, int newfd) {
    if (newfd < 0 || oldfd < 0 || oldfd >= ROAR_FD_MAX || !fd_in_range(newfd)) {
        return;
    }
    roar_lock(&roar_table_mu);
    struct roar_desc *d = roar_fd_table[oldfd];
    struct roar_desc *old = roar_fd_table[newfd];
    __atomic_store_n(&roar_fd_table[newfd], d, __ATOMIC_RELEASE);
    if (newfd > max_fd_seen) {
        max_fd_seen = newfd;
    }
    if (roar_is_desc(d)) {
        __atomic_add_fetch(&d->refs, 1, __ATOMIC_RELAXED);
    }
    roar_unlock(&roar_table_mu);
    if (roar_is_desc(old)) {
        unref(old, -1);
    }
}

long roar_fd_dir_path(int fd, char *out, size_t cap) {
    if (fd < 0 || fd >= ROAR_FD_MAX || !roar_is_desc(roar_fd_peek(fd))) {
        return -1;
    }
    long r = -1;
    roar_lock(&roar_table_mu);
    struct roar_desc *d = roar_fd_table[fd];
    if (roar_is_desc(d) && (d->state & DS_DIR) && d->path_len + 1 <= cap) {
        memcpy(out, d->path, d->path_len + 1);
        r = (long)d->path_len;
    }
    roar_unlock(&roar_table_mu);
    return r;
}

/* ---------------------------------------------------------------------------------------------------------
 * Writable shared mappings keep their description alive until munmap (or exit).
 */
void roar_fd_mapped(void *addr, size_t len, int fd) {
    struct roar_desc *d = pin(fd);
    if (d == NULL) {
        return;
    }
    if (d->mode & DM_W) {
        __atomic_fetch_or(&d->mode, DM_M, __ATOMIC_RELEASE);
        __atomic_and_fetch(&d->state, ~(uint32_t)DS_STREAM_OK, __ATOMIC_RELEASE);
        roar_lock(&roar_table_mu);
        if (roar_n_maps < MAX_MAPS) {
            maps[roar_n_maps].start = (uintptr_t)addr;
            maps[roar_n_maps].end = (uintptr_t)addr + len;
            maps[roar_n_maps].d = d; /* keeps the pin as the mapping's reference */
            __atomic_store_n(&roar_n_maps, roar_n_maps + 1, __ATOMIC_RELEASE);
            d = NULL;
        }
        roar_unlock(&roar_table_mu);
    }
    if (d) {
        unref(d, -1);
    }
}

void roar_fd_unmapped(void *addr, size_t len) {
    uintptr_t s = (uintptr_t)addr, e = (uintptr_t)addr + len;
    struct roar_desc *drop[16];
    int ndrop = 0;
    roar_lock(&roar_table_mu);
    for (int i = 0; i < roar_n_maps && ndrop < 16;) {
        struct roar_map *m = &maps[i];
        if (e <= m->start || s >= m->end) {
            i++;
            continue;
        }
        if (s <= m->start && e >= m->end) {
            drop[ndrop++] = m->d;
            maps[i] = maps[roar_n_maps - 1];
            __atomic_store_n(&roar_n_maps, roar_n_maps - 1, __ATOMIC_RELEASE);
            continue;
        }
        if (s <= m->start) {
            m->start = e; /* head unmapped */
        } else if (e >= m->end) {
            m->end = s; /* tail unmapped */
        }                /* a hole: keep the whole range until it goes or the process exits */
        i++;
    }
    roar_unlock(&roar_table_mu);
    for (int i = 0; i < ndrop; i++) {
        unref(drop[i], -1);
    }
}

/* ---------------------------------------------------------------------------------------------------------
 * fork
 */
void roar_fd_atfork_prepare(void) {
    roar_lock(&roar_table_mu);
    for (struct roar_desc *d = live_head; d; d = d->next) {
        roar_lock(&d->mu);
    }
    bg_atfork_prepare();
}

void roar_fd_atfork_parent(void) {
    bg_atfork_parent();
    for (struct roar_desc *d = live_head; d; d = d->next) {
        roar_unlock(&d->mu);
    }
    roar_unlock(&roar_table_mu);
}

void roar_fd_atfork_child(void) {
    roar_lock_reset(&roar_table_mu);
    roar_cwd_atfork_child();
    bg_atfork_child();
    /* Pins held by threads that do not exist here would never be dropped: recount references. */
    for (struct roar_desc *d = live_head; d; d = d->next) {
        roar_lock_reset(&d->mu);
        d->refs = 0;
        /* what the parent did is the parent's: the child records only its own I/O */
        d->state = (d->state | DS_INHERITED) & ~(uint32_t)(DS_STDIO | DS_CONTENT | DS_SHARED | DS_NEED_O);
        d->bytes_read = 0;
        d->bytes_written = 0;
    }
    for (int i = 0; i < roar_n_maps; i++) {
        maps[i].d->refs++;
    }
    for (int fd = 0; fd <= max_fd_seen; fd++) {
        if (roar_is_desc(roar_fd_table[fd])) {
            roar_fd_table[fd]->refs++;
        }
    }
    /* Descriptions only pinned (no fd, no mapping) are gone in this process. */
    struct roar_desc *d = live_head;
    while (d) {
        struct roar_desc *next = d->next;
        if (d->refs == 0) {
            live_unlink_locked(d);
            free(d->hasher);
            free(d);
        }
        d = next;
    }
}

int roar_fd_max_seen(void) {
    return __atomic_load_n(&max_fd_seen, __ATOMIC_RELAXED);
}

void roar_fd_mark_shared_with_child(void) {
    roar_lock(&roar_table_mu);
    for (int fd = 0; fd <= max_fd_seen; fd++) {
        struct roar_desc *d = roar_fd_table[fd];
        if (roar_is_desc(d) && (d->mode & DM_W)) {
            long fl = roar_sys_fcntl(fd, F_GETFD, 0);
            if (fl >= 0 && !(fl & FD_CLOEXEC)) {
                __atomic_fetch_or(&d->state, DS_SHARED, __ATOMIC_RELEASE);
            }
        }
    }
    roar_unlock(&roar_table_mu);
}

/* ---------------------------------------------------------------------------------------------------------
 * exec handoff: ROAR_FDS=<fd>US<id>US<mode>US<state>US<open_ns>US<dev>US<ino>US<size0>US<mtime0>US<read>US
 * <written>US<tag>US<path>RS...  (US = 0x1F, RS = 0x1E; tag and path escaped as spool fields)
 */
#define US '\x1f'
#define RS '\x1e'
#define HANDOFF_FIELDS 13

char *roar_fd_handoff(int finalise_cloexec, int as_inherited) {
    if (finalise_cloexec) {
        for (int fd = 0; fd <= max_fd_seen; fd++) {
            if (roar_is_desc(roar_fd_peek(fd))) {
                long fl = roar_sys_fcntl(fd, F_GETFD, 0);
                if (fl >= 0 && (fl & FD_CLOEXEC)) {
                    roar_fd_closing(fd); /* the kernel closes it at exec */
                }
            }
        }
    }
    struct roar_line l;
    roar_line_init(&l, 'R');
    l.len = 0;
    roar_line_raw(&l, "ROAR_FDS=", 9);
    size_t empty_len = l.len;
    const struct roar_desc *ids[64];
    int nids = 0;
    roar_lock(&roar_table_mu);
    for (int fd = 0; fd <= max_fd_seen; fd++) {
        struct roar_desc *d = roar_fd_table[fd];
        if (!roar_is_desc(d) || (d->state & DS_DIR)) {
            continue;
        }
        long fl = roar_sys_fcntl(fd, F_GETFD, 0);
        if (fl < 0 || (fl & FD_CLOEXEC)) {
            continue;
        }
        int id = 0;
        while (id < nids && ids[id] != d) {
            id++;
        }
        if (id == nids) {
            if (nids == 64) {
                continue;
            }
            ids[nids++] = d;
        }
        uint32_t state = d->state & (DS_INHERITED | DS_STDIO | DS_CONTENT | DS_SHARED | DS_ADOPTED | DS_NEED_O);
        if (as_inherited) {
            state = (state | DS_INHERITED) & ~(uint32_t)(DS_STDIO | DS_CONTENT | DS_SHARED | DS_NEED_O);
        }
        uint64_t nums[11] = {(uint64_t)fd, (uint64_t)id, d->mode, state, d->open_ns, d->dev, d->ino,
                             (uint64_t)d->size0, d->mtime0, as_inherited ? 0 : d->bytes_read,
                             as_inherited ? 0 : d->bytes_written};
        for (int i = 0; i < 11; i++) {
            roar_line_u64(&l, nums[i]);
        }
        roar_line_str(&l, d->tag);
        roar_line_field(&l, d->path, d->path_len);
        roar_line_raw(&l, "\x1e", 1);
        roar_count(RC_HANDOFF);
    }
    roar_unlock(&roar_table_mu);
    if (l.len == empty_len) {
        roar_line_free(&l);
        return NULL;
    }
    /* Fields were written TAB-separated (TAB never occurs escaped): turn the separators into US. The first
     * separator of each record follows "ROAR_FDS=" or RS and is dropped. */
    char *out = malloc(l.len + 1);
    if (out == NULL) {
        roar_line_free(&l);
        return NULL;
    }
    size_t k = 0;
    for (size_t i = 0; i < l.len; i++) {
        char c = l.p[i];
        if (c == '\t') {
            if (k == empty_len || out[k - 1] == RS) {
                continue;
            }
            c = US;
        }
        out[k++] = c;
    }
    out[k] = 0;
    roar_line_free(&l);
    return out;
}

static int unhex(char c) {
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    return -1;
}

static size_t unescape(const char *s, size_t n, char *out, size_t cap) {
    size_t k = 0;
    for (size_t i = 0; i < n && k + 1 < cap; i++) {
        if (s[i] == '%' && i + 2 < n && unhex(s[i + 1]) >= 0 && unhex(s[i + 2]) >= 0) {
            out[k++] = (char)(unhex(s[i + 1]) * 16 + unhex(s[i + 2]));
            i += 2;
        } else {
            out[k++] = s[i];
        }
    }
    out[k] = 0;
    return k;
}

void roar_fd_adopt_handoff(const char *spec) {
    struct roar_desc *byid[64] = {0};
    const char *rec = spec;
    while (*rec) {
        const char *end = strchr(rec, RS);
        if (end == NULL) {
            end = rec + strlen(rec);
        }
        const char *f[HANDOFF_FIELDS];
        size_t fl[HANDOFF_FIELDS];
        int nf = 0;
        const char *p = rec;
        while (nf < HANDOFF_FIELDS && p <= end) {
            const char *q = memchr(p, US, (size_t)(end - p));
            if (q == NULL || nf == HANDOFF_FIELDS - 1) {
                q = end;
            }
            f[nf] = p;
            fl[nf] = (size_t)(q - p);
            nf++;
            p = q + 1;
        }
        rec = *end ? end + 1 : end;
        if (nf != HANDOFF_FIELDS) {
            continue;
        }
        uint64_t nums[11];
        for (int i = 0; i < 11; i++) {
            nums[i] = strtoull(f[i], NULL, 10);
        }
        int fd = (int)nums[0];
        unsigned id = (unsigned)nums[1];
        if (fd < 0 || fd >= ROAR_FD_MAX || id >= 64) {
            continue;
        }
        struct stat st;
        if (roar_sys_fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || (uint64_t)st.st_dev != nums[5] ||
            (uint64_t)st.st_ino != nums[6]) {
            continue; /* not the same file any more */
        }
        struct roar_desc *d = byid[id];
        if (d != NULL) {
            roar_lock(&roar_table_mu);
            __atomic_add_fetch(&d->refs, 1, __ATOMIC_RELAXED);
            struct roar_desc *old = roar_fd_table[fd];
            roar_fd_table[fd] = d;
            if (fd > max_fd_seen) {
                max_fd_seen = fd;
            }
            roar_unlock(&roar_table_mu);
            if (roar_is_desc(old)) {
                unref(old, -1);
            }
            continue;
        }
        char tag[ROAR_TAG_MAX];
        char path[ROAR_PATH_MAX];
        unescape(f[11], fl[11], tag, sizeof tag);
        size_t plen = unescape(f[12], fl[12], path, sizeof path);
        d = desc_new(path, plen, (uint32_t)nums[2], tag);
        if (d == NULL) {
            continue;
        }
        d->state = (uint32_t)nums[3];
        d->open_ns = nums[4];
        d->dev = nums[5];
        d->ino = nums[6];
        d->size0 = (int64_t)nums[7];
        d->mtime0 = nums[8];
        d->bytes_read = nums[9];
        d->bytes_written = nums[10];
        if (d->bytes_written == 0 && !(d->state & DS_INHERITED) && roar_sys_lseek(fd, 0, SEEK_CUR) == 0 &&
            !((d->mode & DM_A) && st.st_size > 0)) {
            d->state |= DS_STREAM_OK;
        }
        byid[id] = d;
        install(fd, d);
    }
}

/* ---------------------------------------------------------------------------------------------------------
 * exit
 */
static void flush_tracked_stdio(void) {
    _IO_list_lock();
    for (FILE *f = _IO_list_all; f != NULL; f = f->_chain) {
        int fd = f->_fileno;
        if (fd < 0 || fd >= ROAR_FD_MAX) {
            continue;
        }
        if (__fpending(f) == 0) {
            continue;
        }
        struct roar_desc *d = roar_fd_peek(fd);
        if (d == NULL) {
            adopt(fd);
            d = roar_fd_peek(fd);
        }
        if (roar_is_desc(d) && (d->mode & DM_W)) {
            __atomic_fetch_or(&d->state, DS_STDIO, __ATOMIC_RELEASE);
            roar_count(RC_STDIO);
            fflush_unlocked(f);
        }
    }
    _IO_list_unlock();
}

void roar_fd_finalise_all(void) {
    flush_tracked_stdio();
    for (int fd = 0; fd <= max_fd_seen; fd++) {
        roar_fd_closing(fd);
    }
    for (;;) {
        struct roar_desc *d = NULL;
        roar_lock(&roar_table_mu);
        if (roar_n_maps > 0) {
            d = maps[roar_n_maps - 1].d;
            roar_n_maps--;
        }
        roar_unlock(&roar_table_mu);
        if (d == NULL) {
            break;
        }
        unref(d, -1);
    }
}
