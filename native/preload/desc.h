/*
 * Internals of the open-description table shared by its three files (not used elsewhere):
 *   fd.c           the table, descriptions, their F records, adoption, mappings, fork, exit
 *   hash_thread.c  the background hashing thread and deferred closes
 *   handoff.c      the exec hand-off of descriptions (ROAR_FDS)
 * The table's interface to the hooks is in internal.h.
 */
#ifndef ROAR_PRELOAD_DESC_H
#define ROAR_PRELOAD_DESC_H

#include "internal.h"

#include <string.h>

/* Writes from this size on switch a description to background hashing (hash_thread.c). */
#define ROAR_BG_MIN_WRITE (32 * 1024)

static inline uint64_t roar_mtime_ns(const struct stat *st) {
    return (uint64_t)st->st_mtim.tv_sec * 1000000000u + (uint64_t)st->st_mtim.tv_nsec;
}

/* The `hash` field of an F record: "blake3:<hex>". */
#define ROAR_HASH_FIELD_LEN (7 + 2 * ROAR_BLAKE3_OUT_LEN)
static inline void roar_hash_field(const uint8_t digest[ROAR_BLAKE3_OUT_LEN], char out[ROAR_HASH_FIELD_LEN + 1]) {
    memcpy(out, "blake3:", 7);
    roar_blake3_hex(digest, out + 7);
}

/* fd.c */
struct roar_desc *roar_desc_new(const char *path, size_t path_len, uint32_t mode, const char *tag) ROAR_HIDDEN;
void roar_desc_free(struct roar_desc *d) ROAR_HIDDEN;
/* Puts a new description at fd (on the live list); a description that was there is released. */
void roar_desc_install(int fd, struct roar_desc *d) ROAR_HIDDEN;
/* Puts a live description at one more fd (takes a reference). */
void roar_desc_share(int fd, struct roar_desc *d) ROAR_HIDDEN;
/* Drops a reference; the last one finalises. `fd`: an fd still open on it, or -1. */
void roar_desc_unref(struct roar_desc *d, int fd) ROAR_HIDDEN;
/* The F record of d with the given version (hash: "-" or roar_hash_field's). */
void roar_desc_emit_file(const struct roar_desc *d, const char *tag, size_t tag_len, uint64_t close_ns, uint32_t mode,
                         uint64_t dev, uint64_t ino, int64_t size, uint64_t mtime, const char *hash) ROAR_HIDDEN;

/* hash_thread.c */
/* Switches d to background hashing (under d->mu, its hasher holding the stream so far). 0 when not possible. */
int roar_bg_enable(struct roar_desc *d, int fd) ROAR_HIDDEN;
/* Bytes were added to the stream of a background description: queue it for the thread. */
void roar_bg_notify(struct roar_desc *d) ROAR_HIDDEN;
/* Before the F record of a background description: the thread lets go of it, the rest is hashed here. */
void roar_bg_finish(struct roar_desc *d) ROAR_HIDDEN;
/* The last close() of d, before the real close: 1 when its digest is left to the thread (roar_fd_close_end goes
 * on), 0 when the caller finalises it now. */
int roar_bg_defer_close(struct roar_desc *d, int fd) ROAR_HIDDEN;
void roar_bg_atfork_prepare(void) ROAR_HIDDEN;
void roar_bg_atfork_parent(void) ROAR_HIDDEN;
/* In a fork child: no thread, no deferred closes; then, for each live description, forget its background state. */
void roar_bg_atfork_child(void) ROAR_HIDDEN;
void roar_bg_atfork_child_desc(struct roar_desc *d) ROAR_HIDDEN;

#endif
