import Dispatch
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// What `roar hash` was asked to do.
public struct HashRequest: Sendable {
    /// Files to hash (`-` is standard input), or, when `isChecking`, check lists to verify.
    public var paths: [String]
    public var algorithm: HashAlgorithm
    /// Verify the digests listed in `paths` instead of printing new ones (like `b3sum --check`).
    public var isChecking: Bool
    /// 0: automatic (files in parallel, large files split over all CPUs); 1: one thread; N: at most N.
    public var threads: Int
    /// Report progress of large files on the diagnostics stream (a terminal).
    public var showsProgress: Bool

    public init(
        paths: [String], algorithm: HashAlgorithm = .blake3, isChecking: Bool = false, threads: Int = 0,
        showsProgress: Bool = false
    ) {
        self.paths = paths
        self.algorithm = algorithm
        self.isChecking = isChecking
        self.threads = threads
        self.showsProgress = showsProgress
    }
}

/// The logic of `roar hash`: b3sum-compatible output, `--check`, and the exit status. The CLI only parses
/// arguments and passes the two output streams.
public enum HashTool {
    /// Files per batch: a worker takes one batch at a time; results come out in argument order.
    static let batchSize = 64
    /// Files at least this large show progress.
    static let progressMinimumBytes: UInt64 = 64 << 20

    /// Runs `request`, writing result lines to `output` and errors and warnings to `diagnostics` (each call is
    /// one line without its newline, except progress, which starts with a carriage return and has none).
    /// Returns the exit status: 0, or 1 if a file could not be read, a list was malformed or a digest differed.
    public static func run(
        _ request: HashRequest, output: (String) -> Void, diagnostics: @escaping @Sendable (String) -> Void
    ) -> Int32 {
        request.isChecking
            ? check(request, output: output, diagnostics: diagnostics)
            : hash(request, output: output, diagnostics: diagnostics)
    }

    private static func hash(
        _ request: HashRequest, output: (String) -> Void, diagnostics: @escaping @Sendable (String) -> Void
    ) -> Int32 {
        var failures = 0
        let results = digests(of: request.paths, request: request, diagnostics: diagnostics)
        for (path, result) in zip(request.paths, results) {
            switch result {
            case .success(let digest):
                output(HashListing.line(for: digest, path: path))
            case .failure(let error):
                diagnostics("roar hash: \(error)")
                failures += 1
            }
        }
        return failures == 0 ? 0 : 1
    }

    private static func check(
        _ request: HashRequest, output: (String) -> Void, diagnostics: @escaping @Sendable (String) -> Void
    ) -> Int32 {
        var mismatches = 0
        var unreadable = 0
        var malformed = false
        for listPath in request.paths {
            let entries: [HashListing.Entry]
            do {
                let contents = try readText(atPath: listPath)
                entries = try HashListing.entries(in: contents, algorithm: request.algorithm, listPath: listPath)
            } catch {
                diagnostics("roar hash: \(error)")
                malformed = true
                continue
            }
            let results = digests(of: entries.map(\.path), request: request, diagnostics: diagnostics)
            for (entry, result) in zip(entries, results) {
                let outcome: HashListing.CheckOutcome
                switch result {
                case .success(let digest):
                    outcome = digest == entry.expected ? .matched : .mismatched
                    if outcome == .mismatched { mismatches += 1 }
                case .failure(let error):
                    outcome = .unreadable(error)
                    unreadable += 1
                }
                output(HashListing.checkLine(path: entry.path, outcome: outcome))
            }
        }
        if unreadable > 0 {
            diagnostics("roar hash: WARNING: \(unreadable) listed file\(unreadable == 1 ? "" : "s") could not be read")
        }
        if mismatches > 0 {
            let noun = mismatches == 1 ? "checksum" : "checksums"
            diagnostics("roar hash: WARNING: \(mismatches) computed \(noun) did NOT match")
        }
        return mismatches == 0 && unreadable == 0 && !malformed ? 0 : 1
    }

    /// Digests of `paths` in order. Files go in batches of `batchSize`: several batches at a time unless
    /// `request.threads == 1`, and within a BLAKE3 batch the small files share SIMD lanes
    /// (`roar_blake3_hash_fds`).
    static func digests(
        of paths: [String], request: HashRequest, diagnostics: @escaping @Sendable (String) -> Void
    ) -> [Result<Digest, HashError>] {
        let reporter = request.showsProgress ? ProgressReporter(diagnostics: diagnostics) : nil
        let batchCount = (paths.count + batchSize - 1) / batchSize
        let workers = request.threads == 1 ? 1 : min(batchCount, onlineProcessorCount())
        guard workers > 1 else {
            let scratch = BatchScratch()
            var results = [Result<Digest, HashError>]()
            results.reserveCapacity(paths.count)
            var start = 0
            while start < paths.count {
                let end = min(start + batchSize, paths.count)
                results += digests(ofBatch: paths[start..<end], request: request, reporter: reporter, scratch: scratch)
                start = end
            }
            return results
        }
        let slots = Mutex([[Result<Digest, HashError>]](repeating: [], count: batchCount))
        let next = Atomic<Int>(0)
        DispatchQueue.concurrentPerform(iterations: workers) { _ in
            let scratch = BatchScratch()
            while true {
                let batch = next.add(1, ordering: .relaxed).oldValue
                guard batch < batchCount else { return }
                let range = batch * batchSize..<min((batch + 1) * batchSize, paths.count)
                let results = digests(ofBatch: paths[range], request: request, reporter: reporter, scratch: scratch)
                slots.withLock { $0[batch] = results }
            }
        }
        return slots.withLock { $0.flatMap { $0 } }
    }

    /// One batch, in order. BLAKE3 files that are not shown with progress are hashed together.
    private static func digests(
        ofBatch paths: ArraySlice<String>, request: HashRequest, reporter: ProgressReporter?, scratch: BatchScratch
    ) -> [Result<Digest, HashError>] {
        guard request.algorithm == .blake3 else {
            return paths.map { path in
                Result { () throws(HashError) -> Digest in try digest(of: path, request: request, reporter: reporter) }
            }
        }
        var results = [Result<Digest, HashError>?](repeating: nil, count: paths.count)
        var batched = [(index: Int, fd: Int32)]()
        for (index, path) in zip(0..., paths) {
            if path.utf8.count == 1 && path.utf8.first == UInt8(ascii: "-") {
                results[index] = Result { () throws(HashError) -> Digest in
                    try digest(of: path, request: request, reporter: reporter)
                }
                continue
            }
            let fd = open(path, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else {
                results[index] = .failure(HashError(code: .cannotOpen, path: path, underlyingErrno: errno))
                continue
            }
            if let reporter, fileSize(fd) >= progressMinimumBytes {
                defer { close(fd) }
                results[index] = Result { () throws(HashError) -> Digest in
                    defer { reporter.finish(path: path) }
                    return try FileHasher.digest(ofFileDescriptor: fd, path: path, threads: request.threads) {
                        done, total in reporter.report(path: path, done: done, total: total)
                    }
                }
                continue
            }
            batched.append((index, fd))
        }
        if !batched.isEmpty {
            let outcomes = FileHasher.blake3Digests(
                ofFileDescriptors: batched.map(\.fd), threads: request.threads, scratch: scratch)
            for ((index, fd), outcome) in zip(batched, outcomes) {
                close(fd)
                let path = paths[paths.startIndex + index]
                switch outcome {
                case .success(let digest): results[index] = .success(digest)
                case .failure(let code, let number):
                    results[index] = .failure(HashError(code: code, path: path, underlyingErrno: number))
                }
            }
        }
        return results.map { $0! }
    }

    private static func fileSize(_ fd: Int32) -> UInt64 {
        var info = stat()
        guard fstat(fd, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else { return 0 }
        return UInt64(info.st_size)
    }

    private static func digest(of path: String, request: HashRequest, reporter: ProgressReporter?) throws(HashError)
        -> Digest
    {
        guard let reporter else {
            return try FileHasher.digest(ofFileAt: path, algorithm: request.algorithm, threads: request.threads)
        }
        defer { reporter.finish(path: path) }
        return try FileHasher.digest(ofFileAt: path, algorithm: request.algorithm, threads: request.threads) {
            done, total in
            if total >= progressMinimumBytes { reporter.report(path: path, done: done, total: total) }
        }
    }

    static func readText(atPath path: String) throws(HashError) -> String {
        let fd = path == "-" ? STDIN_FILENO : open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw HashError(code: .cannotOpen, path: path, underlyingErrno: errno) }
        defer { if fd != STDIN_FILENO { close(fd) } }
        var bytes = [UInt8]()
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                throw HashError(code: errno == EISDIR ? .cannotOpen : .cannotRead, path: path, underlyingErrno: errno)
            }
            if count == 0 { break }
            bytes += buffer[0..<count]
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    private static func onlineProcessorCount() -> Int {
        max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
    }
}

/// Writes `\r<path>: 42% (420 MiB of 1.0 GiB)` at most ten times a second, and clears it when a file is done.
final class ProgressReporter: Sendable {
    private let diagnostics: @Sendable (String) -> Void
    private struct State {
        var lastReport = ContinuousClock.now - .seconds(1)
        var isShowing = false
    }
    private let state = Mutex(State())

    init(diagnostics: @escaping @Sendable (String) -> Void) {
        self.diagnostics = diagnostics
    }

    func report(path: String, done: UInt64, total: UInt64) {
        let now = ContinuousClock.now
        state.withLock { state in
            guard now - state.lastReport >= .milliseconds(100) else { return }
            state.lastReport = now
            state.isShowing = true
            let percent = total == 0 ? 100 : Int(done * 100 / total)
            diagnostics("\r\(path): \(percent)% (\(Self.size(done)) of \(Self.size(total)))\u{1B}[K")
        }
    }

    func finish(path: String) {
        state.withLock { state in
            guard state.isShowing else { return }
            state.isShowing = false
            diagnostics("\r\u{1B}[K")
        }
    }

    static func size(_ bytes: UInt64) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB"]
        var value = Double(bytes)
        var unit = 0
        while value >= 1024, unit < units.count - 1 {
            value /= 1024
            unit += 1
        }
        if unit == 0 { return "\(bytes) B" }
        let tenths = Int((value * 10).rounded())
        return "\(tenths / 10).\(tenths % 10) \(units[unit])"
    }
}
