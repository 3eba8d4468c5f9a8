// RoarHash: content digests behind one Swift API — BLAKE3 over the C core in CBLAKE3 (SIMD, batched small files,
// mapped or pread file hashing) and SHA-256 (swift-crypto) — and `roar hash`, b3sum-compatible.

import CBLAKE3

/// BLAKE3 (32-byte output) over roar's C implementation, which picks the widest SIMD kernel the CPU offers
/// (AVX-512, AVX2, SSE4.1, else portable C) at run time.
public struct BLAKE3Hasher: StreamingHasher {
    public static var algorithm: HashAlgorithm { .blake3 }

    // Plain C data (no pointers into itself, no heap): copying the struct copies the hasher.
    private var state = roar_blake3_hasher()

    public init() {
        roar_blake3_init(&state)
    }

    public mutating func update(bufferPointer: UnsafeRawBufferPointer) {
        guard let base = bufferPointer.baseAddress, !bufferPointer.isEmpty else { return }
        roar_blake3_update(&state, base, bufferPointer.count)
    }

    public func finalize() -> Digest {
        var state = state
        let bytes = [UInt8](unsafeUninitializedCapacity: Int(ROAR_BLAKE3_OUT_LEN)) { buffer, count in
            roar_blake3_finalize(&state, buffer.baseAddress!)
            count = Int(ROAR_BLAKE3_OUT_LEN)
        }
        return Digest(algorithm: .blake3, bytes: bytes)
    }

    /// The compression kernel in use: `portable`, `sse41`, `avx2` or `avx512`.
    public static var kernel: String { String(cString: roar_blake3_kernel()) }

    /// Kernels this CPU can run, narrowest first.
    public static var availableKernels: [String] {
        let current = kernel
        defer { _ = roar_blake3_force_kernel(current) }
        return ["portable", "sse41", "avx2", "avx512"].filter { roar_blake3_force_kernel($0) == 0 }
    }

    /// Selects a kernel for the whole process (tests and benchmarks); `false` if the CPU lacks it.
    @discardableResult
    public static func forceKernel(_ name: String) -> Bool {
        roar_blake3_force_kernel(name) == 0
    }
}
