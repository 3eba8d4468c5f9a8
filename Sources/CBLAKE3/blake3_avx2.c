/* BLAKE3 kernel: 8 inputs at once in 256-bit vectors (AVX2). */
#include "blake3_internal.h"

#if defined(ROAR_B3_X86)
#define KATTR __attribute__((target("avx2")))
#define KFN(name) x8avx2_##name
#define KUSE_VL 0
#include "blake3_x86_256.h"

#define KV __m256i
#define KW 8
#define KNAME roar_b3_many8_avx2
#define KNAME_LANES roar_b3_lanes8_avx2
#include "blake3_simd_template.h"
#endif
