/*
 * The background hashing thread and deferred closes (the open-description table is fd.c's).
 *
 * Background hashing: hashing costs about as much CPU as the write itself; for large sequential writes the
 * writing thread only counts bytes and one library thread reads them back from the page cache and hashes them,
 * on another core.
 *
 * Deferred closes: at the last close() of such a description the thread is usually still behind. Instead of
 * waiting for it, close() takes the version (fstat) and, right after the real close, a read lease on the
 * thread's private fd: from then on nobody can open the file for writing or truncate it without first waiting for
 * us (fs.lease-break-time), so the bytes the thread still reads are the version's. The thread finishes the hash and
 * writes the F record, with the close's tag and times (readers order records by time, not by position). A large
 * file that has to be hashed again (pwrite, mmap, ...: the stream does not describe it) is left to the thread the
 * same way, from DEFER_REHASH_MIN bytes. Renames and unlinks do not disturb it: the fd holds the inode. Exit, exec
 * and roar_stop_recording wait for these (roar_fd_settle). Without a lease (the file is open for writing
 * elsewhere, is not ours, leases are off) or with MAX_DEFERRED pending, close() finishes the hash itself as before.
 * A process killed meanwhile loses the F record; its O record makes the reader hash the file as found.
 */
#include "desc.h"

#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

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
int roar_bg_enable(struct roar_desc *d, int fd) {
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
        if (bg_buf != NULL && roar_start_own_thread(bg_main, 256 * 1024) == 0) {
            bg_started = 1;
        }
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

void roar_bg_notify(struct roar_desc *d) {
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
void roar_bg_finish(struct roar_desc *d) {
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
int roar_bg_defer_close(struct roar_desc *d, int fd) {
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
        int changed = st.st_size != d->size0 || roar_mtime_ns(&st) != d->mtime0;
        int wrote = __atomic_load_n(&d->bytes_written, __ATOMIC_RELAXED) > 0 || (mode & (DM_C | DM_T | DM_M)) ||
                    changed || (state & (DS_STDIO | DS_CONTENT));
        if (!wrote || st.st_size < DEFER_REHASH_MIN || (!d->bg && !roar_bg_enable(d, fd))) {
            return 0;
        }
        __atomic_and_fetch(&d->state, ~(uint32_t)DS_STREAM_OK, __ATOMIC_RELEASE); /* the thread rehashes it */
    }
    d->close_ns = roar_now_ns();
    d->final_size = st.st_size;
    d->final_mtime = roar_mtime_ns(&st);
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
             roar_mtime_ns(&st) == d->final_mtime;
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
    int same = roar_sys_fstat(d->hfd, &st) == 0 && st.st_size == d->final_size && roar_mtime_ns(&st) == d->final_mtime;
    char hash[ROAR_HASH_FIELD_LEN + 1] = "-";
    uint8_t digest[ROAR_BLAKE3_OUT_LEN];
    if (streamed && same) {
        roar_blake3_finalize(d->hasher, digest);
        roar_hash_field(digest, hash);
    } else if (same && roar_blake3_hash_fd_ex(d->hfd, 1, ROAR_BLAKE3_FD_PREAD, digest) == 0) {
        mode |= DM_S;
        roar_count(RC_REHASH);
        roar_hash_field(digest, hash);
    } else {
        roar_count(RC_REHASH_FAILED);
        roar_emit_warning("rehash-failed", d->path);
    }
    roar_desc_emit_file(d, d->tag, d->tag_len, d->close_ns, mode, d->dev, d->ino, d->final_size, d->final_mtime, hash);
    /* Written now: the program may have flushed at the close (a Ray task's end) and be killed before its next. */
    roar_spool_flush();
    roar_blake3_lease_drop(d->hfd); /* explicitly: a fork child may still hold a copy of the fd */
    roar_sys_close(d->hfd);
    d->hfd = -1;
    free(d->hasher);
    roar_desc_free(d);
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

void roar_bg_atfork_prepare(void) {
    pthread_mutex_lock(&bg_mu);
}

void roar_bg_atfork_parent(void) {
    pthread_mutex_unlock(&bg_mu);
}

/* The child has no hashing thread: its (inherited) descriptions are never streamed. */
void roar_bg_atfork_child(void) {
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
}

void roar_bg_atfork_child_desc(struct roar_desc *d) {
    roar_lock_reset(&d->hash_mu);
    if (d->bg && d->hfd >= 0) {
        roar_sys_close(d->hfd);
    }
    d->hfd = -1;
    d->bg = 0;
    d->queued = 0;
    d->state &= ~(uint32_t)DS_STREAM_OK;
}