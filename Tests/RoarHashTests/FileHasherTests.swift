import RoarHash
import Testing

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

@Suite("Hashing files")
struct FileHasherTests {
    static let sizes = [0, 1, 1024, 16384, 16385, 300_000, 3 * 1024 * 1024 + 7]

    @Test("BLAKE3 of a file matches in-memory hashing with 1, 2 and automatic threads", arguments: sizes)
    func blake3File(size: Int) throws {
        let directory = TemporaryDirectory()
        var random = SeededGenerator(seed: UInt64(size))
        let data = (0..<size).map { _ in UInt8.random(in: 0...255, using: &random) }
        let path = directory.write(data, to: "data")
        let expected = BLAKE3Hasher.hash(bytes: data)
        for threads in [1, 2, 0] {
            #expect(try FileHasher.digest(ofFileAt: path, threads: threads) == expected, "threads: \(threads)")
        }
        #expect(try FileHasher.digest(ofFileAt: path, algorithm: .sha256) == SHA256Hasher.hash(bytes: data))
        #expect(try FileHasher.digest(ofFileAt: path, threads: 1, reading: .pread) == expected, "pread")
    }

    @Test("pread mode never maps the file; mapped mode does (what the test can see)")
    func preadNeverMaps() throws {
        let directory = TemporaryDirectory()
        let data = KnownDigests.pattern(length: 8 << 20)
        let path = directory.write(data, to: "large")
        func mappedWhileHashing(_ reading: FileReading) throws -> Bool {
            var seen = false
            let digest = try FileHasher.digest(ofFileAt: path, threads: 1, reading: reading) { _, _ in
                seen = seen || Self.isMapped(path)
            }
            #expect(digest == BLAKE3Hasher.hash(bytes: data))
            return seen
        }
        #expect(try mappedWhileHashing(.pread) == false)
        #expect(try mappedWhileHashing(.mapped) == true)
    }

    /// Whether `/proc/self/maps` lists `path`.
    static func isMapped(_ path: String) -> Bool {
        guard let maps = fopen("/proc/self/maps", "r") else { return false }
        defer { fclose(maps) }
        var line = [CChar](repeating: 0, count: 4096)
        while fgets(&line, Int32(line.count), maps) != nil {
            if String(cString: line).hasSuffix(path + "\n") { return true }
        }
        return false
    }

    @Test("progress reaches the file size for a multi-piece file")
    func progress() throws {
        let directory = TemporaryDirectory()
        let data = KnownDigests.pattern(length: 8 << 20)
        let path = directory.write(data, to: "big")
        var reports = [(UInt64, UInt64)]()
        let digest = try FileHasher.digest(ofFileAt: path, threads: 1) { done, total in reports.append((done, total)) }
        #expect(digest == BLAKE3Hasher.hash(bytes: data))
        #expect(reports.last?.0 == UInt64(data.count))
        #expect(reports.allSatisfy { $0.1 == UInt64(data.count) })
    }

    @Test("a missing file is a cannotOpen error that names the path and says what to do")
    func missingFile() {
        let error = #expect(throws: HashError.self) {
            try FileHasher.digest(ofFileAt: "/nonexistent/roar/file")
        }
        #expect(error?.code == .cannotOpen)
        #expect(error?.underlyingErrno == ENOENT)
        #expect(error?.description.contains("/nonexistent/roar/file") == true)
        #expect(error?.description.contains("check the path") == true)
    }

    @Test("a directory is reported, not hashed", arguments: HashAlgorithm.allCases)
    func directory(algorithm: HashAlgorithm) {
        let directory = TemporaryDirectory()
        let error = #expect(throws: HashError.self) {
            try FileHasher.digest(ofFileAt: directory.path, algorithm: algorithm)
        }
        #expect(error?.code == .cannotOpen)
        #expect(error?.underlyingErrno == EISDIR)
    }
}
