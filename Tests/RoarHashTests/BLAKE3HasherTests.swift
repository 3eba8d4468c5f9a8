import RoarHash
import Testing

@Suite("BLAKE3 and SHA-256 hashers")
struct HasherTests {
    @Test("BLAKE3 one-shot matches the reference", arguments: KnownDigests.cases)
    func blake3OneShot(known: KnownDigests.Case) {
        #expect(BLAKE3Hasher.hash(bytes: KnownDigests.pattern(length: known.length)).hex == known.blake3)
    }

    @Test("SHA-256 one-shot matches hashlib", arguments: KnownDigests.cases)
    func sha256OneShot(known: KnownDigests.Case) {
        #expect(SHA256Hasher.hash(bytes: KnownDigests.pattern(length: known.length)).hex == known.sha256)
    }

    @Test("HashAlgorithm dispatches to the right hasher", arguments: HashAlgorithm.allCases)
    func algorithmDispatch(algorithm: HashAlgorithm) {
        let digest = algorithm.hash(bytes: Array("abc".utf8))
        #expect(digest.algorithm == algorithm)
        let expected =
            switch algorithm {
            case .blake3: "6437b3ac38465133ffb63b75273a8db548c558465d79db03fd359c6cd5bd9d85"
            case .sha256: "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
            }
        #expect(digest.hex == expected)
    }

    @Test("finalize leaves the hasher usable, and copies fork it")
    func finalizeIsNonDestructive() {
        let data = KnownDigests.pattern(length: 5000)
        var hasher = BLAKE3Hasher()
        hasher.update(data: data[..<3000])
        let prefix = hasher.finalize()
        var fork = hasher
        hasher.update(data: data[3000...])
        #expect(prefix == BLAKE3Hasher.hash(bytes: data[..<3000]))
        #expect(hasher.finalize() == BLAKE3Hasher.hash(bytes: data))
        #expect(fork.finalize() == prefix)
        fork.update(data: [1, 2, 3])
        #expect(fork.finalize() != prefix)
    }

    @Test("update accepts sequences without contiguous storage")
    func nonContiguousSequence() {
        let lazyBytes = (0..<40_000).lazy.map { UInt8($0 % 251) }
        #expect(BLAKE3Hasher.hash(bytes: lazyBytes) == BLAKE3Hasher.hash(bytes: KnownDigests.pattern(length: 40_000)))
    }

    @Test("Digest parses and prints hex")
    func digestHex() throws {
        let hex = "6437B3AC38465133FFB63B75273A8DB548C558465D79DB03FD359C6CD5BD9D85"
        let digest = try #require(Digest(algorithm: .blake3, hex: hex))
        #expect(digest.hex == hex.lowercased())
        #expect(digest == BLAKE3Hasher.hash(bytes: Array("abc".utf8)))
        #expect(Digest(algorithm: .blake3, hex: "abc") == nil)
        #expect(Digest(algorithm: .blake3, hex: String(repeating: "g", count: 64)) == nil)
        #expect(digest.description == "blake3:" + hex.lowercased())
    }
}

/// Forcing a kernel is process-wide, so these run one at a time and restore the automatic choice.
@Suite("Every BLAKE3 kernel the CPU offers", .serialized)
struct KernelTests {
    static let kernels = BLAKE3Hasher.availableKernels

    @Test("the automatic kernel is the widest available")
    func automaticKernel() {
        #expect(BLAKE3Hasher.forceKernel("auto"))
        #expect(BLAKE3Hasher.kernel == Self.kernels.last)
        #expect(!BLAKE3Hasher.forceKernel("no-such-kernel"))
    }

    @Test("one-shot and streaming with random splits match the reference", arguments: kernels)
    func kernelMatchesReference(kernel: String) {
        #expect(BLAKE3Hasher.forceKernel(kernel))
        defer { BLAKE3Hasher.forceKernel("auto") }
        var random = SeededGenerator(seed: 42)
        for known in KnownDigests.cases {
            let data = KnownDigests.pattern(length: known.length)
            #expect(BLAKE3Hasher.hash(bytes: data).hex == known.blake3, "\(kernel), \(known.length) bytes")
            var hasher = BLAKE3Hasher()
            var offset = 0
            while offset < data.count {
                let limit = [1, 64, 1100, 40_000][Int.random(in: 0..<4, using: &random)]
                let end = min(data.count, offset + Int.random(in: 0...limit, using: &random))
                hasher.update(data: data[offset..<end])
                offset = end
            }
            #expect(hasher.finalize().hex == known.blake3, "\(kernel), streamed \(known.length) bytes")
        }
    }

    @Test("byte-at-a-time updates match one-shot", arguments: kernels)
    func singleByteUpdates(kernel: String) {
        #expect(BLAKE3Hasher.forceKernel(kernel))
        defer { BLAKE3Hasher.forceKernel("auto") }
        let data = KnownDigests.pattern(length: 4097)
        var hasher = BLAKE3Hasher()
        for (index, byte) in data.enumerated() {
            hasher.update(data: [byte])
            if [0, 63, 64, 1023, 1024, 1025, 2048, 4095].contains(index) {
                #expect(hasher.finalize() == BLAKE3Hasher.hash(bytes: data[...index]))
            }
        }
        #expect(hasher.finalize() == BLAKE3Hasher.hash(bytes: data))
    }
}
