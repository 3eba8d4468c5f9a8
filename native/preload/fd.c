/*
 * Open file descriptions: the fd table, reference counting across dup/close/mmap, streaming hashes, the
 * F record at the last close, lazy adoption of fds we did not see opened, fork and exit. The background hashing
 * thread and deferred closes are in hash_thread.c, the exec hand-off (ROAR_FDS) in handoff.c; desc.h is what
 * the three share.
 *
 * Locking: `roar_table_mu` protects the table, the live list and the mapping list; `refs` only grows under it
 * (a lookup pins a description by taking a reference) and may drop anywhere (atomically); whoever drops the last
 * reference finalises. `d->mu` serialises writes to one description (the streamed hash must see the bytes in
 * file order). Lock order: table, then description, then the background queue, then the spool. Nobody takes the
 * table lock while holding a description.
 *
 * Hashing: writes from offset 0 onwards are streamed into the description's BLAKE3 hasher; large writes (from
 * 32 KiB) switch the description to a background thread (hash_thread.c) that reads the written bytes back from
 * the page cache (on another core) while the program goes on. At the last close the stream is used when it
 * accounts for the whole file (sequential, size matches, no pwrite/mmap/stdio/in-kernel copy); otherwise the file
 * is hashed again from a private fd (`s`).
 */
#include "desc.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdio_ext.h>
#include <stdlib.h>
#include <string.h>
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

void roar_desc_free(struct roar_desc *d) {
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

struct roar_desc *roar_desc_new(const char *path, size_t path_len, uint32_t mode, const char *tag) {
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

void roar_desc_emit_file(const struct roar_desc *d, const char *tag, size_t tag_len, uint64_t close_ns, uint32_t mode,
                         uint64_t dev, uint64_t ino, int64_t size, uint64_t mtime, const char *hash) {
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
        .hash_len = hash[0] == '-' ? 1 : ROAR_HASH_FIELD_LEN,
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
    char hash[ROAR_HASH_FIELD_LEN + 1] = "-";
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
            mtime = roar_mtime_ns(&st);
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
                roar_hash_field(digest, hash);
            }
        }
        if (own >= 0) {
            roar_sys_close(own);
        }
    }

    roar_desc_emit_file(d, tag, inherited ? strlen(tag) : d->tag_len, close_ns, mode, dev, ino, size, mtime, hash);
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
    /* (Only a written file's digest can be left to the thread: a read-only close does not make the call.) */
    if (may_defer && (__atomic_load_n(&d->mode, __ATOMIC_ACQUIRE) & DM_W) && roar_bg_defer_close(d, fd)) {
        roar_t_guard--;
        return;
    }
    if (__atomic_load_n(&d->bg, __ATOMIC_ACQUIRE)) {
        roar_bg_finish(d);
    }
    finalise(d, fd);
    roar_t_guard--;
    free(d->hasher);
    roar_desc_free(d);
}

static void release(struct roar_desc *d, int fd) {
    release_desc(d, fd, 0, 0);
}

void roar_desc_unref(struct roar_desc *d, int fd) {
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
        roar_desc_unref(old, -1);
    }
}

void roar_desc_install(int fd, struct roar_desc *d) {
    roar_lock(&roar_table_mu);
    struct roar_desc *old = install_locked(fd, d);
    roar_unlock(&roar_table_mu);
    if (roar_is_desc(old)) {
        roar_desc_unref(old, -1); /* closed behind our back: its fd is gone */
    }
}

void roar_desc_share(int fd, struct roar_desc *d) {
    roar_lock(&roar_table_mu);
    __atomic_add_fetch(&d->refs, 1, __ATOMIC_RELAXED);
    struct roar_desc *old = roar_fd_table[fd];
    roar_fd_table[fd] = d;
    if (fd > max_fd_seen) {
        max_fd_seen = fd;
    }
    roar_unlock(&roar_table_mu);
    if (roar_is_desc(old)) {
        roar_desc_unref(old, -1);
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
    d->mtime0 = roar_mtime_ns(st);
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
            struct roar_desc *d = roar_desc_new(path, path_len, 0, "");
            if (d) {
                d->state = DS_DIR;
                roar_desc_install(fd, d);
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
    struct roar_desc *d = roar_desc_new(path, path_len, mode_from_flags(flags), roar_current_tag());
    if (d == NULL) {
        roar_count(RC_UNTRACKED_FD);
        roar_fd_mark(fd, ROAR_D_IGNORED);
        return;
    }
    d->open_ns = roar_now_ns();
    set_stat(d, &st);
    roar_desc_install(fd, d);
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
        ((size_t)n >= sizeof deleted - 1 &&
         memcmp(link + n - (sizeof deleted - 1), deleted, sizeof deleted - 1) == 0)) {
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
    struct roar_desc *d = roar_desc_new(link, (size_t)n, mode_from_flags((int)(fl < 0 ? 0 : fl) & ~(O_CREAT | O_TRUNC)),
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
        roar_desc_free(d);
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
        roar_desc_unref(d, -1);
        return NULL;
    }
    roar_lock(&d->mu);
    maybe_emit_open(d);
    return d;
}

void roar_fd_unlock_write(struct roar_desc *d) {
    roar_unlock(&d->mu);
    roar_desc_unref(d, -1);
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
    if (d->bg || (n >= ROAR_BG_MIN_WRITE && roar_bg_enable(d, fd))) {
        __atomic_store_n(&d->stream_len, d->stream_len + n, __ATOMIC_SEQ_CST);
        roar_bg_notify(d);
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
    roar_desc_unref(d, -1);
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
    roar_desc_unref(d, -1);
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
    roar_desc_unref(d, -1);
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
        roar_desc_unref(d, fd);
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
        roar_desc_unref(old, -1);
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
        roar_desc_unref(d, -1);
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
        roar_desc_unref(drop[i], -1);
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
    roar_bg_atfork_prepare();
}

void roar_fd_atfork_parent(void) {
    roar_bg_atfork_parent();
    for (struct roar_desc *d = live_head; d; d = d->next) {
        roar_unlock(&d->mu);
    }
    roar_unlock(&roar_table_mu);
}

void roar_fd_atfork_child(void) {
    roar_lock_reset(&roar_table_mu);
    roar_cwd_atfork_child();
    roar_bg_atfork_child();
    /* Pins held by threads that do not exist here would never be dropped: recount references. */
    for (struct roar_desc *d = live_head; d; d = d->next) {
        roar_bg_atfork_child_desc(d);
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
        roar_desc_unref(d, -1);
    }
}
