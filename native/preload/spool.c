/*
 * The spool writer: one file per process image, `<pid>-<start_ns>-<rand>.spool` in ROAR_SPOOL, opened on the
 * first flush that has something to say (a record other than `Z`, or a loss counted: a process that recorded
 * nothing leaves no file) with raw syscalls, `H` first. Records are formatted outside any lock into a line buffer, then
 * appended under the spool lock to a process buffer that is written with one write(2) when full, when more than
 * ROAR_FLUSH_MS passed since the last flush, at roar_flush(), before fork/exec and at exit. Never uses stdio.
 *
 * Loss is bounded in time for what matters most (docs/spool-format.md, "Buffering and crash safety"), also when
 * the process does nothing more: a program that runs threads of its own (Ray workers, most ML code) gets a
 * flusher thread at its first record after FLUSHER_AFTER_NS, which writes whatever waits in the buffer every half
 * ROAR_FLUSH_MS. A single-threaded program gets no thread — one more thread would end glibc's single-thread fast
 * paths (every write() then pays cancellation handling: +90 ns per 1-byte write measured) and costs ~90 µs to
 * create and end — and writes the F record of each file it wrote at once instead: an output is never left in
 * memory.
 */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define SPOOL_BUFFER_BYTES (64 * 1024)

static roar_lock_t spool_mu = ROAR_LOCK_INIT;
static char spool_buf[SPOOL_BUFFER_BYTES];
static size_t spool_len;
static size_t spool_records;   /* records in spool_buf */

/* A full file system must not lose records silently: space past the end of the spool file is kept allocated
 * (fallocate, FALLOC_FL_KEEP_SIZE), grown a chunk at a time before the writes that need it, so that when the file
 * system fills up, the records that no longer fit are counted (spool_full) and the C record that says so still
 * fits in the reserve. Where fallocate is not supported, records are written as before and a failed write counts
 * as lost. */
#define SPOOL_RESERVE (16 * 1024)
#define SPOOL_RESERVE_CHUNK (256 * 1024)
#define SPOOL_FULL_COUNTERS_EVERY_NS 500000000u /* while full, the C record in the reserve is renewed at most this often */
static uint64_t spool_size;      /* bytes written to the current spool file */
static uint64_t spool_allocated; /* of which, and beyond, allocated: spool_size + SPOOL_RESERVE <= it while it lasts */
static int spool_unreservable;   /* fallocate does not work on this file system */
static int spool_full;           /* the last attempt to grow the reserve found the file system full */
static uint64_t spool_full_counters_ns;
static int spool_exiting;        /* the exit flush is under way */
volatile int roar_spool_fd = -1;
#define spool_fd roar_spool_fd
static int spool_failed;       /* the spool file could not be opened: drop (count) records */
static uint64_t last_flush_ns;
/* When this image started (or this fork child), on the clock of roar_line_commit; and its flusher thread:
 * FLUSHER_NONE until the first record after FLUSHER_AFTER_NS in a program with threads of its own (see
 * roar_program_has_threads), then FLUSHER_RUNNING (or FLUSHER_FAILED). */
#define FLUSHER_AFTER_NS (10u * 1000000u)
enum { FLUSHER_NONE, FLUSHER_RUNNING, FLUSHER_FAILED };
static uint64_t image_start_ns;
static int flusher_state;
int roar_program_has_threads;
/* A record other than Z was committed in this image (since fork), or its spool file was opened once: until
 * then a flush with nothing else to say (only Z, and no loss counted) creates no file. */
static int spool_content;

/* Counters that must reach a reader even when the process recorded nothing else (SpoolTags.lossCounters, plus
 * those that say a record is missing or that a call of the program was failed by the library). */
static int loss_counted(void) {
    static const enum roar_counter loss[] = {RC_LOST,          RC_UNTRACKED_FD, RC_FD_OVERFLOW,
                                             RC_REHASH_FAILED, RC_PATH_TOO_LONG, RC_TAG_TRUNCATED,
                                             RC_STATIC_EXEC,   RC_UNRESOLVED,   RC_SPOOL_FULL};
    for (size_t i = 0; i < sizeof loss / sizeof loss[0]; i++) {
        if (__atomic_load_n(&roar_counters[loss[i]], __ATOMIC_RELAXED) != 0) {
            return 1;
        }
    }
    return 0;
}

/* ---------------------------------------------------------------------------------------------------------
 * Line building
 */
static void line_reserve(struct roar_line *l, size_t extra) {
    if (l->len + extra <= l->cap) {
        return;
    }
    size_t cap = l->cap * 2;
    while (cap < l->len + extra) {
        cap *= 2;
    }
    char *p = l->heap ? realloc(l->p, cap) : malloc(cap);
    if (p == NULL) {
        return; /* callers check capacity again and truncate */
    }
    if (!l->heap) {
        memcpy(p, l->p, l->len);
    }
    l->p = p;
    l->cap = cap;
    l->heap = 1;
}

void roar_line_init(struct roar_line *l, char type) {
    l->p = l->inline_buf;
    l->cap = sizeof l->inline_buf;
    l->heap = 0;
    l->p[0] = type;
    l->len = 1;
}

void roar_line_free(struct roar_line *l) {
    if (l->heap) {
        free(l->p);
    }
    l->heap = 0;
}

void roar_line_raw(struct roar_line *l, const char *s, size_t n) {
    line_reserve(l, n);
    if (l->len + n > l->cap) {
        n = l->cap - l->len;
    }
    memcpy(l->p + l->len, s, n);
    l->len += n;
}

static const char hexdigits[] = "0123456789ABCDEF";

/* 1 for the bytes a field must escape: 0x00-0x1F, 0x7F and '%'. */
static inline int needs_escape(unsigned char c) {
    return c < 0x20 || c == 0x7f || c == '%';
}

/* SWAR scan: index of the first byte in s[i..n) that needs escaping, or n. A word is flagged when one of its
 * bytes is < 0x20, 0x7F or '%' (the borrow tricks give no false positive for "some byte matches"); the flagged
 * word is then searched byte by byte. */
static inline uint64_t escape_hits(const char *s) {
    const uint64_t ones = 0x0101010101010101ull, highs = 0x8080808080808080ull;
    uint64_t x;
    memcpy(&x, s, 8);
    uint64_t del = x ^ (0x7full * ones), pct = x ^ (0x25ull * ones);
    /* ~x & highs excludes bytes >= 0x80 from every test: none of the three can match them */
    return ((x - 0x20ull * ones) | (del - ones) | (pct - ones)) & ~x & highs;
}

static inline size_t next_escape(const char *s, size_t i, size_t n) {
    while (i + 8 <= n) {
        if (escape_hits(s + i)) {
            break;
        }
        i += 8;
    }
    if (i < n && i + 8 > n && n >= 8 && !escape_hits(s + n - 8)) {
        return n; /* the tail, as the last 8 bytes (overlapping what was checked) */
    }
    while (i < n && !needs_escape((unsigned char)s[i])) {
        i++;
    }
    return i;
}

void roar_line_field(struct roar_line *l, const char *s, size_t n) {
    size_t first = next_escape(s, 0, n);
    if (ROAR_LIKELY(first == n) && ROAR_LIKELY(l->len + 1 + n <= l->cap)) {
        /* nothing to escape (the common case): one copy */
        char *o = l->p + l->len;
        *o = '\t';
        memcpy(o + 1, s, n);
        l->len += 1 + n;
        return;
    }
    line_reserve(l, 1 + 3 * n);
    if (l->len + 1 + 3 * n > l->cap) {
        n = (l->cap - l->len - 1) / 3;
        if (first > n) {
            first = n;
        }
    }
    char *o = l->p + l->len;
    *o++ = '\t';
    size_t i = 0, j = first;
    for (;;) {
        memcpy(o, s + i, j - i);
        o += j - i;
        if (j >= n) {
            break;
        }
        unsigned char c = (unsigned char)s[j];
        *o++ = '%';
        *o++ = hexdigits[c >> 4];
        *o++ = hexdigits[c & 15];
        i = j + 1;
        j = next_escape(s, i, n);
    }
    l->len = (size_t)(o - l->p);
}

/* TAB + a field known to need no escaping (hex digests, mode letters). */
void roar_line_plain(struct roar_line *l, const char *s, size_t n) {
    line_reserve(l, 1 + n);
    if (l->len + 1 + n > l->cap) {
        return;
    }
    l->p[l->len++] = '\t';
    memcpy(l->p + l->len, s, n);
    l->len += n;
}

void roar_line_str(struct roar_line *l, const char *s) {
    roar_line_field(l, s ? s : "", s ? strlen(s) : 0);
}

static const uint64_t pow10_table[20] = {
    1ull, 10ull, 100ull, 1000ull, 10000ull, 100000ull, 1000000ull, 10000000ull, 100000000ull, 1000000000ull,
    10000000000ull, 100000000000ull, 1000000000000ull, 10000000000000ull, 100000000000000ull,
    1000000000000000ull, 10000000000000000ull, 100000000000000000ull, 1000000000000000000ull,
    10000000000000000000ull,
};

/* Number of decimal digits of v: log10 estimated from the bit length, corrected with one comparison. */
static inline unsigned u64_len(uint64_t v) {
    unsigned bits = 64u - (unsigned)__builtin_clzll(v | 1);
    unsigned t = (bits * 1233u) >> 12; /* 1233/4096 ~ log10(2): t is the digit count or one less */
    return t + ((v | 1) >= pow10_table[t]); /* v | 1: 0 has one digit */
}

/* The 8 ASCII digits of v < 10^8 as a little-endian word (first digit in the lowest byte), with no division
 * chain: the two 4-digit halves, then their 2-digit and 1-digit parts, are split in parallel lanes of one
 * 64-bit word using multiply-and-shift reciprocals (exact in these ranges: x*10486>>20 == x/100 for
 * x < 10^4, x*103>>10 == x/10 for x < 100). */
static inline uint64_t digits8_word(uint32_t v) {
    uint64_t hi = v / 10000u;
    uint64_t x = hi | ((uint64_t)(v - (uint32_t)hi * 10000u) << 32);    /* lanes of 32: [hi4, lo4] */
    uint64_t y = ((x * 10486u) >> 20) & 0x0000007F0000007Full;           /* each / 100 */
    uint64_t w = y | ((x - y * 100u) << 16);                             /* lanes of 16: [/100, %100] x 2 */
    uint64_t t = ((w * 103u) >> 10) & 0x000F000F000F000Full;             /* each / 10 */
    uint64_t d = t | ((w - t * 10u) << 8);                               /* lanes of 8: one digit each */
    return d + 0x3030303030303030ull;
}

/* Stores the last k (1..8) digits of a digits8_word at o: the leading zeros are shifted out in the register
 * and 8 bytes are stored (the bytes after the k digits are scratch). Stores only: reading the digits back
 * from a stack buffer at a variable offset would stall on store forwarding. */
static inline void store_tail(char *o, uint64_t w, unsigned k) {
    w >>= 8u * (8u - k);
    memcpy(o, &w, 8);
}

/* Writes the decimal digits of v at o, which must have room for 24 bytes (the bytes after the digits are
 * scratch); returns the end of the digits. */
static inline __attribute__((always_inline)) char *put_u64(char *o, uint64_t v) {
    unsigned n = u64_len(v);
    if (v < 100000000u) {
        store_tail(o, digits8_word((uint32_t)v), n);
        return o + n;
    }
    uint64_t hi = v / 100000000u;
    uint64_t lo = digits8_word((uint32_t)(v - hi * 100000000u));
    char *e = o + n;
    if (hi < 100000000u) {
        store_tail(o, digits8_word((uint32_t)hi), n - 8);
    } else {
        uint64_t top = hi / 100000000u;
        store_tail(o, digits8_word((uint32_t)top), n - 16);
        uint64_t mid = digits8_word((uint32_t)(hi - top * 100000000u));
        memcpy(e - 16, &mid, 8);
    }
    memcpy(e - 8, &lo, 8);
    return e;
}

void roar_line_u64(struct roar_line *l, uint64_t v) {
    if (ROAR_LIKELY(l->len + 25 <= l->cap)) {
        char *o = l->p + l->len;
        *o = '\t';
        if (v < 10u) { /* counters that stay 0, "version 1" */
            o[1] = (char)('0' + v);
            l->len += 2;
            return;
        }
        l->len = (size_t)(put_u64(o + 1, v) - l->p);
        return;
    }
    char tmp[32];
    tmp[0] = '\t';
    roar_line_raw(l, tmp, (size_t)(put_u64(tmp + 1, v) - tmp));
}

void roar_line_i64(struct roar_line *l, int64_t v) {
    if (v < 0) {
        char tmp[24];
        uint64_t u = (uint64_t)(-(v + 1)) + 1;
        int i = (int)sizeof tmp;
        do {
            tmp[--i] = (char)('0' + u % 10);
            u /= 10;
        } while (u);
        tmp[--i] = '-';
        tmp[--i] = '\t';
        roar_line_raw(l, tmp + i, sizeof tmp - (size_t)i);
    } else {
        roar_line_u64(l, (uint64_t)v);
    }
}

/* A CLOCK_REALTIME time in ns at o (room for 24 bytes): from 2001-09-09 to 2286 it has 19 digits, 10 of seconds
 * and 9 of nanoseconds. The seconds' digits are cached per thread, one entry per kind of time (slot 0: clock
 * readings, slot 1: file mtimes): consecutive records share them, which leaves one digits8_word per time. */
struct ns_digits {
    uint64_t sec;
    uint64_t lo8; /* the last 8 digits of sec as digits8_word */
    uint16_t hi2; /* its first 2 */
};
static ROAR_TLS struct ns_digits ns_cache[2];

static inline __attribute__((always_inline)) char *put_ns(char *o, uint64_t v, int slot) {
    if (ROAR_UNLIKELY(v < 1000000000000000000ull || v >= 10000000000000000000ull)) {
        return put_u64(o, v);
    }
    uint64_t sec = v / 1000000000u;
    uint32_t ns = (uint32_t)(v - sec * 1000000000u);
    struct ns_digits *c = &ns_cache[slot];
    uint64_t lo8;
    uint16_t hi2;
    if (ROAR_LIKELY(c->sec == sec)) {
        lo8 = c->lo8;
        hi2 = c->hi2;
    } else {
        uint32_t hi = (uint32_t)(sec / 100000000u); /* 10..99 */
        lo8 = digits8_word((uint32_t)(sec - (uint64_t)hi * 100000000u));
        hi2 = (uint16_t)(('0' + hi / 10) | (('0' + hi % 10) << 8));
        /* a signal handler formatting in between would only see a miss: sec is written last */
        c->sec = 0;
        __atomic_signal_fence(__ATOMIC_SEQ_CST);
        c->lo8 = lo8;
        c->hi2 = hi2;
        __atomic_signal_fence(__ATOMIC_SEQ_CST);
        c->sec = sec;
    }
    memcpy(o, &hi2, 2);
    memcpy(o + 2, &lo8, 8);
    uint64_t w = digits8_word(ns / 10u);
    memcpy(o + 10, &w, 8);
    o[18] = (char)('0' + ns % 10u);
    return o + 19;
}

/* TAB + decimal; o has room for 25 bytes. */
static inline __attribute__((always_inline)) char *put_tab_u64(char *o, uint64_t v) {
    *o++ = '\t';
    if (v < 10u) {
        *o = (char)('0' + v);
        return o + 1;
    }
    return put_u64(o, v);
}

/* The letters of each of the 128 DM_* combinations packed in a word (first letter in the lowest byte), their
 * count in the top byte; built on first use (idempotent, so a race only builds it twice). */
static uint64_t letter_words[128];
static int letter_words_built;

static void build_letter_words(void) {
    static const char letters[7] = {'r', 'w', 'a', 'c', 't', 'm', 's'};
    for (unsigned m = 0; m < 128; m++) {
        uint64_t w = 0;
        unsigned k = 0;
        for (unsigned i = 0; i < 7; i++) {
            if (m & (1u << i)) {
                w |= (uint64_t)(unsigned char)letters[i] << (8 * k++);
            }
        }
        letter_words[m] = w | (uint64_t)k << 56;
    }
    __atomic_store_n(&letter_words_built, 1, __ATOMIC_RELEASE);
}

/* Stores 8 bytes at o (those after the letters are scratch). */
static inline char *put_letters(char *o, uint32_t mode) {
    if (ROAR_UNLIKELY(!__atomic_load_n(&letter_words_built, __ATOMIC_ACQUIRE))) {
        build_letter_words();
    }
    uint64_t w = letter_words[mode & 127u];
    memcpy(o, &w, 8);
    return o + (w >> 56);
}

void roar_mode_letters(uint32_t mode, char *out) {
    *put_letters(out, mode) = 0;
}

/* The fixed-width part of an F record is at most: "F" + 12 TABs + 9 numbers of at most 20 digits + 7 letters
 * + '\n', plus the scratch bytes put_u64 may store after its digits. */
#define FILE_RECORD_FIXED 256

static void emit_file_record(const struct roar_file_record *r);
static void flush_locked(int counters);

/* A written file's F record, in a process without a flusher thread: written at once (see the top of this file). */
static void flush_output_record(void) {
    roar_lock(&spool_mu);
    if (flusher_state != FLUSHER_RUNNING && spool_len > 0) {
        flush_locked(0);
    }
    roar_unlock(&spool_mu);
}

void roar_emit_file(const struct roar_file_record *r) {
    emit_file_record(r);
    if ((r->mode & DM_W) && roar_g.flush_interval_ns != 0) {
        flush_output_record();
    }
}

static void emit_file_record(const struct roar_file_record *r) {
    struct roar_line l;
    roar_line_init(&l, 'F');
    if (ROAR_LIKELY(r->tag_len + r->path_len + r->hash_len + FILE_RECORD_FIXED <= l.cap) &&
        ROAR_LIKELY(next_escape(r->tag, 0, r->tag_len) == r->tag_len) &&
        ROAR_LIKELY(next_escape(r->path, 0, r->path_len) == r->path_len)) {
        char *o = l.p + 1;
        *o++ = '\t';
        if (r->tag_len > 0) { /* usually none: the command roar launched */
            memcpy(o, r->tag, r->tag_len);
            o += r->tag_len;
        }
        *o++ = '\t';
        o = put_ns(o, r->open_ns, 0);
        *o++ = '\t';
        o = put_ns(o, r->close_ns, 0);
        *o++ = '\t';
        o = put_letters(o, r->mode);
        o = put_tab_u64(o, r->bytes_read);
        o = put_tab_u64(o, r->bytes_written);
        o = put_tab_u64(o, r->dev);
        o = put_tab_u64(o, r->ino);
        if (ROAR_LIKELY(r->size >= 0)) {
            o = put_tab_u64(o, (uint64_t)r->size);
        } else {
            l.len = (size_t)(o - l.p);
            roar_line_i64(&l, r->size);
            o = l.p + l.len;
        }
        *o++ = '\t';
        o = put_ns(o, r->mtime_ns, 1);
        *o++ = '\t';
        if (r->hash_len == 1) { /* "-": read-only */
            *o++ = r->hash[0];
        } else {
            memcpy(o, r->hash, r->hash_len);
            o += r->hash_len;
        }
        *o++ = '\t';
        memcpy(o, r->path, r->path_len);
        o += r->path_len;
        l.len = (size_t)(o - l.p);
    } else {
        char letters[8];
        roar_mode_letters(r->mode, letters);
        roar_line_field(&l, r->tag, r->tag_len);
        roar_line_u64(&l, r->open_ns);
        roar_line_u64(&l, r->close_ns);
        roar_line_plain(&l, letters, strlen(letters));
        roar_line_u64(&l, r->bytes_read);
        roar_line_u64(&l, r->bytes_written);
        roar_line_u64(&l, r->dev);
        roar_line_u64(&l, r->ino);
        roar_line_i64(&l, r->size);
        roar_line_u64(&l, r->mtime_ns);
        roar_line_plain(&l, r->hash, r->hash_len);
        roar_line_field(&l, r->path, r->path_len);
    }
    roar_line_commit_at(&l, r->close_ns);
}

/* ---------------------------------------------------------------------------------------------------------
 * The spool file
 */

/* Whether `n` more bytes can be written with the reserve left intact, growing the allocation when needed. */
static int spool_room_locked(size_t n) {
    if (spool_unreservable || spool_size + n + SPOOL_RESERVE <= spool_allocated) {
        return 1;
    }
    /* A chunk ahead when there is room for it (one fallocate per chunk written), else exactly what is needed. */
    uint64_t need = spool_size + n + SPOOL_RESERVE;
    for (uint64_t want = need + SPOOL_RESERVE_CHUNK;; want = need) {
        if (syscall(SYS_fallocate, spool_fd, FALLOC_FL_KEEP_SIZE, (off_t)spool_size, (off_t)(want - spool_size)) ==
            0) {
            spool_allocated = want;
            spool_full = 0;
            return 1;
        }
        if (errno != ENOSPC && errno != EDQUOT) {
            spool_unreservable = 1; /* EOPNOTSUPP and the like: no reserve here */
            return 1;
        }
        if (want == need) {
            spool_full = 1;
            return 0;
        }
    }
}

/* Writes bytes holding `records` records; what cannot be written is counted. */
static void spool_write_locked(const void *p, size_t n, size_t records) {
    if (!spool_room_locked(n)) {
        __atomic_fetch_add(&roar_counters[RC_SPOOL_FULL], records, __ATOMIC_RELAXED);
        return;
    }
    if (roar_sys_write_all(spool_fd, p, n) != 0) {
        __atomic_fetch_add(&roar_counters[RC_LOST], records, __ATOMIC_RELAXED);
        /* What reached the file is unknown: measure the reserve again from the file's end. */
        long end = roar_sys_lseek(spool_fd, 0, SEEK_END);
        spool_size = end > 0 ? (uint64_t)end : spool_size;
        return;
    }
    spool_size += n;
}

static void append_counters_to(struct roar_line *c, uint64_t now);

/* While the file system is full: the counters go into the reserve, at most every
 * SPOOL_FULL_COUNTERS_EVERY_NS (and always at exit), while it lasts. */
static void spool_counters_into_reserve_locked(uint64_t now, int at_exit) {
    if (!at_exit && now - spool_full_counters_ns < SPOOL_FULL_COUNTERS_EVERY_NS) {
        return;
    }
    struct roar_line c;
    append_counters_to(&c, now);
    if (spool_size + c.len <= spool_allocated && roar_sys_write_all(spool_fd, c.p, c.len) == 0) {
        spool_size += c.len;
        spool_full_counters_ns = now;
    }
    roar_line_free(&c);
}

static int spool_open_locked(void) {
    if (spool_fd >= 0) {
        return 0;
    }
    if (spool_failed || roar_g.spool_dir == NULL) {
        return -1;
    }
    uint64_t start = roar_now_ns();
    uint32_t rnd = 0;
    if (syscall(SYS_getrandom, &rnd, sizeof rnd, 1 /* GRND_NONBLOCK */) != (long)sizeof rnd) {
        rnd = (uint32_t)(start ^ (start >> 29) ^ ((uint64_t)roar_g.pid * 2654435761u));
    }
    char name[ROAR_PATH_MAX + 80];
    size_t dl = roar_g.spool_dir_len;
    if (dl + 80 > sizeof name) {
        spool_failed = 1;
        return -1;
    }
    memcpy(name, roar_g.spool_dir, dl);
    struct roar_line tmp; /* reuse the integer formatter */
    roar_line_init(&tmp, '/');
    roar_line_u64(&tmp, (uint64_t)roar_g.pid);
    roar_line_u64(&tmp, start);
    size_t k = dl;
    name[k++] = '/';
    for (size_t i = 2; i < tmp.len; i++) {
        name[k++] = tmp.p[i] == '\t' ? '-' : tmp.p[i];
    }
    name[k++] = '-';
    for (int i = 7; i >= 0; i--) {
        name[k++] = "0123456789abcdef"[(rnd >> (4 * i)) & 15];
    }
    memcpy(name + k, ".spool", 7);
    long fd = roar_sys_open(name, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (fd < 0) {
        spool_failed = 1;
        return -1;
    }
    spool_fd = roar_fd_move_high((int)fd);
    spool_content = 1;
    spool_size = 0;
    spool_allocated = 0;
    spool_full = 0;
    spool_full_counters_ns = 0;

    /* H version pid ppid start_ns exe cwd */
    struct roar_line h;
    roar_line_init(&h, 'H');
    roar_line_u64(&h, 1);
    roar_line_u64(&h, (uint64_t)roar_g.pid);
    roar_line_u64(&h, (uint64_t)syscall(SYS_getppid));
    roar_line_u64(&h, start);
    char buf[ROAR_PATH_MAX];
    long n = roar_sys_readlink("/proc/self/exe", buf, sizeof buf);
    roar_line_field(&h, buf, n > 0 ? (size_t)n : 0);
    n = roar_cwd_copy(buf, sizeof buf);
    roar_line_field(&h, buf, n > 0 ? (size_t)n : 0);
    roar_line_raw(&h, "\n", 1);
    spool_write_locked(h.p, h.len, 1);
    roar_line_free(&h);
    __atomic_fetch_add(&roar_counters[RC_EVENTS], 1, __ATOMIC_RELAXED);
    return 0;
}

/* C ns key=value ... */
static void append_counters_to(struct roar_line *out, uint64_t now) {
    struct roar_line c;
    roar_line_init(&c, 'C');
    roar_line_u64(&c, now);
    for (int i = 0; i < RC_COUNT; i++) {
        char kv[64];
        size_t nl = strlen(roar_counter_names[i]);
        memcpy(kv, roar_counter_names[i], nl);
        kv[nl++] = '=';
        char digits[24];
        int d = (int)sizeof digits;
        uint64_t v = __atomic_load_n(&roar_counters[i], __ATOMIC_RELAXED);
        do {
            digits[--d] = (char)('0' + v % 10);
            v /= 10;
        } while (v);
        memcpy(kv + nl, digits + d, sizeof digits - (size_t)d);
        nl += sizeof digits - (size_t)d;
        roar_line_field(&c, kv, nl);
    }
    roar_line_raw(&c, "\n", 1);
    *out = c;
}

/* The C record at the end of the buffer (there is always room: see COUNTER_RESERVE). */
static void append_counters_locked(uint64_t now) {
    struct roar_line c;
    append_counters_to(&c, now);
    if (spool_len + c.len <= sizeof spool_buf) {
        memcpy(spool_buf + spool_len, c.p, c.len);
        spool_len += c.len;
    }
    roar_line_free(&c);
}

/* Writes the buffer. With `counters`, a C record is appended first. */
static void flush_locked(int counters) {
    uint64_t now = roar_now_ns();
    last_flush_ns = now;
    if (spool_len == 0 && !counters) {
        return;
    }
    if (spool_fd < 0 && !spool_content && !loss_counted()) {
        /* Nothing but Z (or nothing at all): a process that recorded nothing leaves no file. */
        spool_len = 0;
        spool_records = 0;
        return;
    }
    if (spool_open_locked() != 0) {
        __atomic_fetch_add(&roar_counters[RC_LOST], spool_records, __ATOMIC_RELAXED);
        spool_len = 0;
        spool_records = 0;
        return;
    }
    if (counters) {
        append_counters_locked(now);
    }
    spool_write_locked(spool_buf, spool_len, spool_records);
    if (spool_full) {
        spool_counters_into_reserve_locked(now, spool_exiting);
    }
    spool_len = 0;
    spool_records = 0;
}

static uint64_t coarse_now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME_COARSE, &ts); /* the interval checks need milliseconds, not nanoseconds */
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

__attribute__((constructor)) static void spool_clock_start(void) {
    image_start_ns = coarse_now_ns();
}

static void *flusher_main(void *arg) {
    roar_t_guard = 1; /* nothing this thread does is traced */
    uint64_t half = roar_g.flush_interval_ns / 2;
    struct timespec pause = {(time_t)(half / 1000000000u), (long)(half % 1000000000u)};
    for (;;) {
        syscall(SYS_nanosleep, &pause, NULL);
        roar_lock(&spool_mu);
        if (spool_len > 0 && !roar_g.exiting) {
            flush_locked(0);
        }
        roar_unlock(&spool_mu);
    }
    return arg;
}

/* Starts this process's flusher thread (outside the spool lock: creating a thread maps memory). */
static void start_flusher(void) {
    if (roar_start_own_thread(flusher_main, 64 * 1024) != 0) {
        __atomic_store_n(&flusher_state, FLUSHER_FAILED, __ATOMIC_RELAXED);
    }
}

/* Room kept free at the end of the buffer for the C record of the next flush. */
#define COUNTER_RESERVE 1024

void roar_line_commit(struct roar_line *l) {
    roar_line_commit_at(l, coarse_now_ns());
}

void roar_line_commit_at(struct roar_line *l, uint64_t now) {
    if (ROAR_LIKELY(l->len < l->cap)) {
        l->p[l->len++] = '\n';
    } else {
        roar_line_raw(l, "\n", 1);
        if (l->p[l->len - 1] != '\n') {
            l->p[l->len - 1] = '\n'; /* truncated by an allocation failure: keep the line well-formed */
        }
    }
    int start_thread = 0;
    roar_lock(&spool_mu);
    roar_add_u64(&roar_counters[RC_EVENTS], 1);
    if (l->p[0] != 'Z') {
        spool_content = 1;
    }
    if (last_flush_ns == 0) {
        last_flush_ns = now; /* the interval starts with the first record */
    }
    if (spool_len + l->len + COUNTER_RESERVE > sizeof spool_buf) {
        flush_locked(1);
    }
    if (l->len + COUNTER_RESERVE > sizeof spool_buf) {
        /* A huge record (long argv): write it on its own. */
        if (spool_open_locked() == 0) {
            spool_write_locked(l->p, l->len, 1);
        } else {
            roar_count(RC_LOST);
        }
    } else {
        memcpy(spool_buf + spool_len, l->p, l->len);
        spool_len += l->len;
        spool_records++;
        if (roar_g.flush_interval_ns == 0 || (now > last_flush_ns && now - last_flush_ns > roar_g.flush_interval_ns)) {
            flush_locked(1);
        } else if (ROAR_UNLIKELY(flusher_state == FLUSHER_NONE) &&
                   __atomic_load_n(&roar_program_has_threads, __ATOMIC_RELAXED) &&
                   now > image_start_ns + FLUSHER_AFTER_NS) {
            flusher_state = FLUSHER_RUNNING;
            start_thread = 1;
        }
    }
    roar_unlock(&spool_mu);
    roar_line_free(l);
    if (start_thread) {
        start_flusher();
    }
}

int roar_spool_untouched(void) {
    roar_lock(&spool_mu);
    int r = spool_fd < 0 && !spool_content && !loss_counted();
    roar_unlock(&spool_mu);
    return r;
}

void roar_spool_flush(void) {
    roar_lock(&spool_mu);
    flush_locked(1);
    roar_unlock(&spool_mu);
}

void roar_spool_flush_at_exit(void) {
    roar_lock(&spool_mu);
    spool_exiting = 1; /* the last C record goes into the reserve whenever it last had one */
    flush_locked(1);
    roar_unlock(&spool_mu);
}

void roar_spool_fd_closing(void) {
    roar_lock(&spool_mu);
    if (spool_fd >= 0) {
        flush_locked(1); /* while the fd is still ours */
        spool_fd = -1;   /* the program's close/dup2 takes it; the next flush opens a new spool file */
    }
    roar_unlock(&spool_mu);
}

void roar_spool_flush_from_signal(void) {
    if (!roar_g.enabled || roar_g.exiting) {
        return;
    }
    if (roar_trylock(&spool_mu) != 0) {
        return; /* this thread (or another) is inside the spool: leave it */
    }
    flush_locked(1);
    roar_unlock(&spool_mu);
}

void roar_spool_atfork_prepare(void) {
    roar_lock(&spool_mu);
    flush_locked(1);
}

void roar_spool_atfork_parent(void) {
    roar_unlock(&spool_mu);
}

void roar_spool_atfork_child(void) {
    roar_lock_reset(&spool_mu);
    if (spool_fd >= 0) {
        roar_sys_close(spool_fd);
    }
    spool_fd = -1;
    spool_failed = 0;
    spool_content = 0;
    spool_size = 0;
    spool_allocated = 0;
    spool_unreservable = 0;
    spool_full = 0;
    spool_len = 0;
    spool_records = 0;
    last_flush_ns = roar_now_ns();
    image_start_ns = coarse_now_ns(); /* threads do not survive fork: the child starts its own flusher */
    flusher_state = FLUSHER_NONE;
    roar_program_has_threads = 0;
    /* The child's counters start over: the parent's C records already count what it did. */
    for (int i = 0; i < RC_COUNT; i++) {
        roar_counters[i] = 0;
    }
}

/* ---------------------------------------------------------------------------------------------------------
 * Emitters
 */
void roar_emit_warning(const char *kind, const char *detail) {
    struct roar_line l;
    roar_line_init(&l, 'W');
    roar_line_str(&l, roar_current_tag());
    roar_line_u64(&l, roar_now_ns());
    roar_line_str(&l, kind);
    roar_line_str(&l, detail ? detail : "");
    roar_line_commit(&l);
}

void roar_emit_path_event(char type, const char *path) {
    struct roar_line l;
    roar_line_init(&l, type);
    roar_line_str(&l, roar_current_tag());
    roar_line_u64(&l, roar_now_ns());
    roar_line_str(&l, path);
    roar_line_commit(&l);
}

void roar_emit_two_paths(char type, const char *old_path, const char *new_path) {
    struct roar_line l;
    roar_line_init(&l, type);
    roar_line_str(&l, roar_current_tag());
    roar_line_u64(&l, roar_now_ns());
    roar_line_str(&l, old_path);
    roar_line_str(&l, new_path);
    roar_line_commit(&l);
}

void roar_emit_truncate(const char *path, int64_t length) {
    struct roar_line l;
    roar_line_init(&l, 'T');
    roar_line_str(&l, roar_current_tag());
    roar_line_u64(&l, roar_now_ns());
    roar_line_str(&l, path);
    roar_line_i64(&l, length);
    roar_line_commit(&l);
}

void roar_emit_pid(pid_t child) {
    struct roar_line l;
    roar_line_init(&l, 'P');
    roar_line_str(&l, roar_current_tag());
    roar_line_u64(&l, roar_now_ns());
    roar_line_u64(&l, (uint64_t)child);
    roar_line_commit(&l);
}

void roar_emit_exit(void) {
    struct roar_line l;
    roar_line_init(&l, 'Z');
    roar_line_u64(&l, roar_now_ns());
    roar_line_commit(&l);
}
