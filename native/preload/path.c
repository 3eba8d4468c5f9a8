/*
 * Paths: lexical normalisation (no symlink resolution, no syscalls), the cached working directory (invalidated
 * by the chdir/fchdir hooks) and the ROAR_IGNORE / ROAR_INCLUDE prefix filter.
 */
#include "internal.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

static roar_lock_t cwd_mu = ROAR_LOCK_INIT;
static char cwd_buf[ROAR_PATH_MAX];
static size_t cwd_len;
static int cwd_valid;

long roar_normalise(const char *in, size_t in_len, char *out, size_t out_len, size_t cap) {
    size_t o = out_len;
    size_t i = 0;
    if (o == 1 && out[0] == '/') {
        o = 0; /* the root is the empty prefix */
    }
    while (i < in_len) {
        while (i < in_len && in[i] == '/') {
            i++;
        }
        size_t j = i;
        while (j < in_len && in[j] != '/') {
            j++;
        }
        size_t n = j - i;
        if (n == 0) {
            break;
        }
        if (n == 1 && in[i] == '.') {
            /* skip */
        } else if (n == 2 && in[i] == '.' && in[i + 1] == '.') {
            while (o > 0 && out[o - 1] != '/') {
                o--;
            }
            if (o > 0) {
                o--;
            }
        } else {
            if (o + 1 + n + 1 > cap) {
                return -1;
            }
            out[o++] = '/';
            memcpy(out + o, in + i, n);
            o += n;
        }
        i = j;
    }
    if (o == 0) {
        if (cap < 2) {
            return -1;
        }
        out[o++] = '/';
    }
    out[o] = 0;
    return (long)o;
}

void roar_cwd_invalidate(void) {
    roar_lock(&cwd_mu);
    cwd_valid = 0;
    roar_unlock(&cwd_mu);
}

long roar_cwd_copy(char *out, size_t cap) {
    long r = -1;
    roar_lock(&cwd_mu);
    if (!cwd_valid) {
        long n = syscall(SYS_getcwd, cwd_buf, sizeof cwd_buf);
        if (n > 1 && cwd_buf[0] == '/') {
            cwd_len = (size_t)n - 1; /* the syscall counts the NUL */
            cwd_valid = 1;
        }
    }
    if (cwd_valid && cwd_len + 1 <= cap) {
        memcpy(out, cwd_buf, cwd_len + 1);
        r = (long)cwd_len;
    }
    roar_unlock(&cwd_mu);
    return r;
}

/* Called in a forked child: the mutex may have been held by another thread of the parent. */
void roar_cwd_atfork_child(void) {
    roar_lock_reset(&cwd_mu);
}

/* 1 when the component after the '/' at c[-1] is empty, "." or ".." (c is NUL-terminated). */
static inline int bad_component(const char *c) {
    return c[0] == 0 || c[0] == '/' ||
           (c[0] == '.' && (c[1] == 0 || c[1] == '/' || (c[1] == '.' && (c[2] == 0 || c[2] == '/'))));
}

/* High bit set in (at least) the bytes of x equal to c; a byte above a match may be flagged too (borrow), never
 * one below the first match: fine for finding candidates that are then checked exactly. */
static inline uint64_t eq_bytes(uint64_t x, unsigned char c) {
    uint64_t y = x ^ (0x0101010101010101ull * c);
    return (y - 0x0101010101010101ull) & ~y & 0x8080808080808080ull;
}

/* Whether no component starting in p[i..i+8) is empty, "." or ".." (p[i + 8] is readable). */
static inline int window_normal(const char *p, size_t i) {
    uint64_t a, b;
    memcpy(&a, p + i, 8);
    memcpy(&b, p + i + 1, 8);
    if (ROAR_LIKELY(!(eq_bytes(a, '/') & (eq_bytes(b, '/') | eq_bytes(b, '.'))))) {
        return 1;
    }
    for (size_t k = i; k < i + 8; k++) {
        if (p[k] == '/' && bad_component(p + k + 1)) {
            return 0;
        }
    }
    return 1;
}

/* Length of an absolute path with no "//", "." or ".." component and no trailing '/' (already normal), when it
 * is shorter than `max`; -1 otherwise. Candidates ('/' followed by '/' or '.') are found 8 bytes at a time. */
static long normal_absolute_len(const char *p, size_t max) {
    if (p[0] != '/') {
        return -1;
    }
    size_t n = strlen(p);
    if (n >= max) {
        return -1;
    }
    if (n == 1) {
        return 1; /* "/" */
    }
    if (p[n - 1] == '/') {
        return -1;
    }
    if (n < 8) {
        for (size_t i = 0; i < n; i++) {
            if (p[i] == '/' && bad_component(p + i + 1)) {
                return -1;
            }
        }
        return (long)n;
    }
    /* window i..i+7 compared with i+1..i+8: reads up to p[i + 8] <= p[n] (the NUL); the last window overlaps the
     * one before it instead of a byte loop over the tail */
    for (size_t i = 0;; i += 8) {
        if (i + 8 > n) {
            i = n - 8;
        }
        if (!window_normal(p, i)) {
            return -1;
        }
        if (i + 8 >= n) {
            return (long)n;
        }
    }
}

long roar_resolve_path(int dirfd, const char *path, char *out) {
    const char *r;
    long n = roar_resolve_path_ref(dirfd, path, out, &r);
    if (n > 0 && r != out) {
        memcpy(out, r, (size_t)n + 1);
    }
    return n;
}

long roar_resolve_path_ref(int dirfd, const char *path, char *out, const char **result) {
    *result = out;
    if (path == NULL) {
        return -1;
    }
    if (path[0] == '/') {
        long k = normal_absolute_len(path, ROAR_PATH_MAX);
        if (k > 0) {
            *result = path; /* already normal: no copy */
            return k;
        }
    }
    size_t plen = strlen(path);
    long base = 0;
    if (path[0] != '/') {
        if (dirfd == AT_FDCWD) {
            base = roar_cwd_copy(out, ROAR_PATH_MAX);
        } else {
            base = roar_fd_dir_path(dirfd, out, ROAR_PATH_MAX);
            if (base < 0 && dirfd >= 0) {
                char proc[40] = "/proc/self/fd/";
                size_t k = 14;
                char digits[16];
                int d = 0;
                unsigned v = (unsigned)dirfd;
                do {
                    digits[d++] = (char)('0' + v % 10);
                    v /= 10;
                } while (v);
                while (d > 0) {
                    proc[k++] = digits[--d];
                }
                proc[k] = 0;
                base = roar_sys_readlink(proc, out, ROAR_PATH_MAX - 1);
                if (base <= 0 || out[0] != '/') {
                    base = -1;
                }
            }
        }
        if (base < 0) {
            return -1;
        }
    }
    long n = roar_normalise(path, plen, out, (size_t)base, ROAR_PATH_MAX);
    if (n < 0) {
        roar_count(RC_PATH_TOO_LONG);
    }
    return n;
}

static inline int prefix_match(const struct roar_prefix *p, const char *path, size_t len) {
    if (p->len == 0) {
        return 1; /* "/" */
    }
    /* cheap rejections first: most paths differ from most prefixes in the second byte or at the boundary */
    return len >= p->len && path[1] == p->path[1] && (len == p->len || path[p->len] == '/') &&
           memcmp(path, p->path, p->len) == 0;
}

/* For each second byte of a path, the ignore prefixes it can match (bit i: roar_g.ignore[i]; a "/" prefix is
 * in every entry, and entry 0 is also used for "/" itself): most recorded paths match none, which settles them
 * with one lookup, and the others are compared with the few prefixes that start like them. Built by
 * roar_prefixes_done() before the library is enabled (at most ROAR_MAX_PREFIXES = 64 prefixes). */
static uint64_t ignore_by_second[256];

void roar_prefixes_done(void) {
    _Static_assert(ROAR_MAX_PREFIXES <= 64, "one bit per prefix");
    for (int i = 0; i < roar_g.n_ignore; i++) {
        const struct roar_prefix *p = &roar_g.ignore[i];
        if (p->len == 0) {
            for (int c = 0; c < 256; c++) {
                ignore_by_second[c] |= 1ull << i;
            }
        } else {
            ignore_by_second[(unsigned char)p->path[1]] |= 1ull << i;
        }
    }
}

int roar_path_ignored(const char *path, size_t len) {
    if (roar_g.spool_dir_len > 0) {
        struct roar_prefix spool = {roar_g.spool_dir, roar_g.spool_dir_len};
        if (prefix_match(&spool, path, len)) {
            return 1;
        }
    }
    uint64_t cand = ignore_by_second[len < 2 ? 0 : (unsigned char)path[1]];
    if (ROAR_LIKELY(cand == 0)) {
        return 0;
    }
    int ignored = 0;
    while (cand) {
        int i = __builtin_ctzll(cand);
        cand &= cand - 1;
        if (prefix_match(&roar_g.ignore[i], path, len)) {
            ignored = 1;
            break;
        }
    }
    if (!ignored) {
        return 0;
    }
    for (int i = 0; i < roar_g.n_include; i++) {
        if (prefix_match(&roar_g.include[i], path, len)) {
            return 0; /* ROAR_INCLUDE wins over ROAR_IGNORE */
        }
    }
    return 1;
}

void roar_prefixes_parse(const char *spec, struct roar_prefix *out, int *n) {
    if (spec == NULL) {
        return;
    }
    const char *s = spec;
    while (*s && *n < ROAR_MAX_PREFIXES) {
        const char *e = strchr(s, ':');
        size_t len = e ? (size_t)(e - s) : strlen(s);
        if (len > 0 && s[0] == '/' && len < ROAR_PATH_MAX) {
            char norm[ROAR_PATH_MAX];
            long k = roar_normalise(s, len, norm, 0, sizeof norm);
            if (k > 0) {
                if (k == 1) {
                    k = 0; /* "/" matches everything */
                }
                char *copy = strndup(norm, (size_t)k);
                if (copy) {
                    out[*n].path = copy;
                    out[*n].len = (size_t)k;
                    (*n)++;
                }
            }
        }
        if (!e) {
            break;
        }
        s = e + 1;
    }
}
