/* BLAKE3 kernel: 4 inputs at once in 128-bit vectors (SSE4.1; rotations by byte shuffles). */
#include "blake3_internal.h"

#if defined(ROAR_B3_X86)
#define KATTR __attribute__((target("sse4.1")))
#define KFN(name) x4sse_##name
#define KUSE_VL 0
#include "blake3_x86_128.h"

#define KV __m128i
#define KW 4
#define KNAME roar_b3_many4_sse41
#define KNAME_LANES roar_b3_lanes4_sse41
#include "blake3_simd_template.h"

#define KCOMPRESS roar_b3_compress_sse41
#include "blake3_x86_compress.h"
#endif
