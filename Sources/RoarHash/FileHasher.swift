import CBLAKE3

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// How BLAKE3 reads a file.
public enum FileReading: Sendable {
    /// Large files are mapped, as b3sum does (no copy through a buffer); a file truncated meanwhile is caught
    /// (a SIGBUS guard installed for the call, `blake3_fd.c`) and read again. For roar on the host.
    case mapped
    /// `pread` only: never maps the file, never takes a lease, never installs a signal handler. For a process on
    /// a node where user tasks run (`roar-agent`): a task that truncates a mapped file would SIGBUS it, and a
    /// lease would make a task's non-blocking open for writing fail.
    case pread

    var flags: UInt32 {
        switch self {
        case .mapped: UInt32(ROAR_BLAKE3_FD_MMAP)
        case .pread: UInt32(ROAR_BLAKE3_FD_PREAD)
        }
    }
}

/// Hashes whole files. BLAKE3 uses the SIMD kernels and, for large files, several threads; SHA-256 streams
/// through swift-crypto.
public enum FileHasher {
    /// Progress of one large file: bytes hashed so far and the file's size.
    public typealias Progress = (_ bytesDone: UInt64, _ bytesTotal: UInt64) -> Void

    /// The digest of the file at `path` (`-` reads standard input).
    ///
    /// - Parameters:
    ///   - threads: BLAKE3 threads; 0 picks automatically (all CPUs above a few MiB, else one), 1 stays on this
    ///     thread. SHA-256 is sequential and ignores it.
    ///   - reading: how BLAKE3 reads the file (SHA-256 always streams with `read`).
    ///   - progress: called on this thread now and then while a large file is hashed.
    public static func digest(
        ofFileAt path: String, algorithm: HashAlgorithm = .blake3, threads: Int = 0, reading: FileReading = .mapped,
        progress: Progress? = nil
    ) throws(HashError) -> Digest {
        let fd: Int32
        if path == "-" {
            fd = STDIN_FILENO
        } else {
            fd = open(path, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else { throw HashError(code: .cannotOpen, path: path, underlyingErrno: errno) }
        }
        defer { if fd != STDIN_FILENO { close(fd) } }
        return try digest(
            ofFileDescriptor: fd, path: path, algorithm: algorithm, threads: threads, reading: reading,
            progress: progress)
    }

    /// The digest of everything readable from `fd` from offset 0 (or from the current position for pipes).
    /// `path` only names the file in errors.
    public static func digest(
        ofFileDescriptor fd: Int32, path: String, algorithm: HashAlgorithm = .blake3, threads: Int = 0,
        reading: FileReading = .mapped, progress: Progress? = nil
    ) throws(HashError) -> Digest {
        switch algorithm {
        case .blake3:
            return try blake3(fd: fd, path: path, threads: threads, reading: reading, progress: progress)
        case .sha256:
            return try stream(fd: fd, path: path, hasher: SHA256Hasher(), progress: progress)
        }
    }

    /// What happened to one file of a batch (the caller knows the paths, so errors carry code and errno only).
    enum BatchOutcome {
        case success(Digest)
        case failure(HashError.Code, Int32)
    }

    /// BLAKE3 of several open files at once: small files share SIMD lanes, large ones are mapped and hashed with
    /// `threads`. The descriptors stay open.
    static func blake3Digests(ofFileDescriptors fds: [Int32], threads: Int, scratch: BatchScratch) -> [BatchOutcome] {
        var digests = [UInt8](repeating: 0, count: fds.count * Int(ROAR_BLAKE3_OUT_LEN))
        var results = [Int32](repeating: 0, count: fds.count)
        fds.withUnsafeBufferPointer { fdBuffer in
            digests.withUnsafeMutableBytes { digestBuffer in
                results.withUnsafeMutableBufferPointer { resultBuffer in
                    blake3Digests(
                        ofFileDescriptors: fdBuffer.baseAddress!, count: fds.count, threads: threads, scratch: scratch,
                        into: digestBuffer.baseAddress!, results: resultBuffer.baseAddress!)
                }
            }
        }
        return results.indices.map { index in
            let result = results[index]
            guard result == 0 else {
                return .failure(result == -EISDIR ? .cannotOpen : .cannotRead, -result)
            }
            let start = index * Int(ROAR_BLAKE3_OUT_LEN)
            return .success(Digest(algorithm: .blake3, bytes: Array(digests[start..<start + Int(ROAR_BLAKE3_OUT_LEN)])))
        }
    }

    /// `roar_blake3_hash_fds` over raw buffers: `digests` receives `ROAR_BLAKE3_OUT_LEN` bytes per descriptor,
    /// `results` a status each (0 or -errno).
    static func blake3Digests(
        ofFileDescriptors fds: UnsafePointer<Int32>, count: Int, threads: Int, scratch: BatchScratch,
        into digests: UnsafeMutableRawPointer, results: UnsafeMutablePointer<Int32>
    ) {
        let outs = digests.assumingMemoryBound(
            to: (
                UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8,
                UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8,
                UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8
            ).self)
        roar_blake3_hash_fds(
            count, fds, Int32(clamping: threads), UInt32(ROAR_BLAKE3_FD_MMAP), scratch.pointer, outs, results)
    }

    private final class ProgressBox {
        let progress: Progress
        init(_ progress: @escaping Progress) { self.progress = progress }
    }

    private static func blake3(fd: Int32, path: String, threads: Int, reading: FileReading, progress: Progress?)
        throws(HashError) -> Digest
    {
        var bytes = [UInt8](repeating: 0, count: Int(ROAR_BLAKE3_OUT_LEN))
        let result: Int32 = bytes.withUnsafeMutableBufferPointer { out in
            let flags = reading.flags
            guard let progress else {
                return roar_blake3_hash_fd_progress(fd, Int32(clamping: threads), flags, nil, nil, out.baseAddress!)
            }
            let box = Unmanaged.passRetained(ProgressBox(progress))
            defer { box.release() }
            return roar_blake3_hash_fd_progress(
                fd, Int32(clamping: threads), flags,
                { context, done, total in
                    Unmanaged<ProgressBox>.fromOpaque(context!).takeUnretainedValue().progress(done, total)
                },
                box.toOpaque(), out.baseAddress!)
        }
        guard result == 0 else {
            let code: HashError.Code = result == -EISDIR ? .cannotOpen : .cannotRead
            throw HashError(code: code, path: path, underlyingErrno: -result)
        }
        return Digest(algorithm: .blake3, bytes: bytes)
    }

    private static func stream(fd: Int32, path: String, hasher: some StreamingHasher, progress: Progress?)
        throws(HashError) -> Digest
    {
        var hasher = hasher
        var info = stat()
        let total: UInt64 = fstat(fd, &info) == 0 && (info.st_mode & S_IFMT) == S_IFREG ? UInt64(info.st_size) : 0
        let capacity = 1 << 20
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: capacity, alignment: 64)
        defer { buffer.deallocate() }
        var done: UInt64 = 0
        while true {
            let count = read(fd, buffer.baseAddress, capacity)
            if count < 0 {
                if errno == EINTR { continue }
                let code: HashError.Code = errno == EISDIR ? .cannotOpen : .cannotRead
                throw HashError(code: code, path: path, underlyingErrno: errno)
            }
            if count == 0 { break }
            hasher.update(bufferPointer: UnsafeRawBufferPointer(rebasing: buffer[0..<count]))
            done += UInt64(count)
            if let progress, total > UInt64(capacity) { progress(done, total) }
        }
        return hasher.finalize()
    }
}

/// The read buffer `roar_blake3_hash_fds` needs, one per worker.
final class BatchScratch {
    let pointer: UnsafeMutableRawPointer

    init() {
        pointer = .allocate(byteCount: Int(ROAR_BLAKE3_BATCH_SCRATCH), alignment: 64)
    }

    deinit {
        pointer.deallocate()
    }
}
