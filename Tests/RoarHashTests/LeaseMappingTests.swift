import CBLAKE3
import Dispatch
import RoarHash
import Synchronization
import Testing

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// roar_blake3_hash_fd without flags (the preload library's rehash): files from 512 KiB are mapped under a read
/// lease; a writer breaking the lease makes the hash let go and read again with pread.
@Suite("Hashing a file under a read lease")
struct LeaseMappingTests {
    private func hashFD(_ path: String, threads: Int32, flags: UInt32 = 0) -> (Int32, Digest) {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        defer { close(fd) }
        var bytes = [UInt8](repeating: 0, count: Int(ROAR_BLAKE3_OUT_LEN))
        let rc = bytes.withUnsafeMutableBufferPointer { roar_blake3_hash_fd_ex(fd, threads, flags, $0.baseAddress!) }
        return (rc, Digest(algorithm: .blake3, bytes: bytes))
    }

    @Test("leased mapping and pread agree with in-memory hashing", arguments: [512 << 10, (1 << 20) + 1, 9 << 20])
    func digests(size: Int) {
        let directory = TemporaryDirectory()
        let data = KnownDigests.pattern(length: size)
        let path = directory.write(data, to: "f")
        let expected = BLAKE3Hasher.hash(bytes: data)
        for threads: Int32 in [1, 2, 0] {
            for flags in [0, UInt32(ROAR_BLAKE3_FD_PREAD)] {
                let (rc, digest) = hashFD(path, threads: threads, flags: flags)
                #expect(rc == 0)
                #expect(digest == expected, "threads \(threads), flags \(flags)")
            }
        }
    }

    @Test("a writer truncating the file meanwhile waits briefly, and the digest is of the old or the new content")
    func truncatedByWriter() {
        let directory = TemporaryDirectory()
        let data = KnownDigests.pattern(length: 64 << 20)
        let path = directory.write(data, to: "big")
        let full = BLAKE3Hasher.hash(bytes: data)
        let short = BLAKE3Hasher.hash(bytes: Array(data[0..<1_000_003]))
        let truncated = Atomic<Bool>(false)
        let waited = Mutex<Double>(0)
        let writer = Thread {
            usleep(20_000)
            var start = timespec()
            clock_gettime(CLOCK_MONOTONIC, &start)
            let fd = open(path, O_WRONLY | O_CLOEXEC)
            var end = timespec()
            clock_gettime(CLOCK_MONOTONIC, &end)
            waited.withLock { $0 = Double(end.tv_sec - start.tv_sec) + Double(end.tv_nsec - start.tv_nsec) / 1e9 }
            _ = ftruncate(fd, 1_000_003)
            close(fd)
            truncated.store(true, ordering: .sequentiallyConsistent)
        }
        var sawTruncated = false
        for round in 0..<200 {
            let (rc, digest) = hashFD(path, threads: round % 2 == 0 ? 1 : 0)
            #expect(rc == 0)
            #expect(digest == full || digest == short)
            if digest == short {
                sawTruncated = true
                break
            }
        }
        writer.join()
        #expect(sawTruncated || truncated.load(ordering: .sequentiallyConsistent))
        #expect(waited.withLock { $0 } < 2.0, "the writer waited on the lease too long")
    }
}

/// A joinable pthread running a closure.
private final class Thread {
    private var thread = pthread_t()

    init(_ body: @escaping () -> Void) {
        let box = Unmanaged.passRetained(Box(body)).toOpaque()
        pthread_create(
            &thread, nil,
            { raw in
                let box = Unmanaged<Box>.fromOpaque(raw!).takeRetainedValue()
                box.body()
                return nil
            }, box)
    }

    func join() {
        pthread_join(thread, nil)
    }

    private final class Box {
        let body: () -> Void
        init(_ body: @escaping () -> Void) { self.body = body }
    }
}
