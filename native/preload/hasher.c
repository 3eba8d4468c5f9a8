/*
 * hasher.c — BLAKE3 for the traced program's own runtime (roar_runtime's S3 capture hashes the bytes
 * of a PutObject body or a GetObject stream as they pass through the process, docs/s3.md).
 *
 * The state is the caller's memory: roar_hasher_size() bytes, 8-byte aligned (it holds uint64_t; the Python
 * side allocates an array of c_uint64). No malloc, no locks: one state per stream, one thread at a time.
 */
#include "internal.h"

ROAR_EXPORT size_t roar_hasher_size(void) { return sizeof(roar_blake3_hasher); }

ROAR_EXPORT void roar_hasher_init(void *state) { roar_blake3_init((roar_blake3_hasher *)state); }

ROAR_EXPORT void roar_hasher_update(void *state, const void *input, size_t length) {
    roar_blake3_update((roar_blake3_hasher *)state, input, length);
}

/* Writes the digest of what was fed so far as 64 lowercase hex digits and a NUL; the state stays usable. */
ROAR_EXPORT void roar_hasher_hex(const void *state, char hex[2 * ROAR_BLAKE3_OUT_LEN + 1]) {
    uint8_t digest[ROAR_BLAKE3_OUT_LEN];
    roar_blake3_finalize((const roar_blake3_hasher *)state, digest);
    roar_blake3_hex(digest, hex);
}
