/*
 * The exec hand-off: before an exec the descriptions the new image inherits (fds without close-on-exec) are
 * encoded into ROAR_FDS; the new image's constructor adopts them, so a file opened before the exec is recorded
 * once, by whoever closes it last.
 *
 * ROAR_FDS=<fd>US<id>US<mode>US<state>US<open_ns>US<dev>US<ino>US<size0>US<mtime0>US<read>US
 * <written>US<tag>US<path>RS...  (US = 0x1F, RS = 0x1E; tag and path escaped as spool fields; descriptions
 * shared by several fds carry the same id)
 */
#include "desc.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define US '\x1f'
#define RS '\x1e'
#define HANDOFF_FIELDS 13

char *roar_fd_handoff(int finalise_cloexec, int as_inherited) {
    if (finalise_cloexec) {
        int max_fd = roar_fd_max_seen();
        for (int fd = 0; fd <= max_fd; fd++) {
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
    int max_fd = roar_fd_max_seen();
    for (int fd = 0; fd <= max_fd; fd++) {
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
            roar_desc_share(fd, d);
            continue;
        }
        char tag[ROAR_TAG_MAX];
        char path[ROAR_PATH_MAX];
        unescape(f[11], fl[11], tag, sizeof tag);
        size_t plen = unescape(f[12], fl[12], path, sizeof path);
        d = roar_desc_new(path, plen, (uint32_t)nums[2], tag);
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
        roar_desc_install(fd, d);
    }
}
