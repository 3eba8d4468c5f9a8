import CBLAKE3
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
        if request.isChecking {
            return check(request, output: output, diagnostics: diagnostics)
        }
        return hash(
            request,
            write: { bytes in
                // One callback per line, without its newline (the bytes always end at a line end).
                var start = 0
                for index in 0..<bytes.count where bytes[index] == 0x0A {
                    output(String(decoding: UnsafeRawBufferPointer(rebasing: bytes[start..<index]), as: UTF8.self))
                    start = index + 1
                }
            }, diagnostics: diagnostics)
    }

    /// `run` for a byte stream: `write` gets the result lines, newlines included, in large pieces (each ends at
    /// a line end), ready for `write(2)`. `--check` results go through it too. This is what the CLI uses: no
    /// `String` per line.
    public static func run(
        _ request: HashRequest, write: (UnsafeRawBufferPointer) -> Void,
        diagnostics: @escaping @Sendable (String) -> Void
    ) -> Int32 {
        if request.isChecking {
            return check(
                request,
                output: { line in
                    var bytes = Array(line.utf8)
                    bytes.append(0x0A)
                    bytes.withUnsafeBytes(write)
                }, diagnostics: diagnostics)
        }
        return hash(request, write: write, diagnostics: diagnostics)
    }

    /// The listing: every batch of files becomes a block of ready-made output bytes (hex, two spaces, the path,
    /// a newline) plus the errors that fall between its lines; blocks come out in argument order.
    private static func hash(
        _ request: HashRequest, write: (UnsafeRawBufferPointer) -> Void,
        diagnostics: @escaping @Sendable (String) -> Void
    ) -> Int32 {
        let paths = request.paths
        let reporter = request.showsProgress ? ProgressReporter(diagnostics: diagnostics) : nil
        let batchCount = (paths.count + batchSize - 1) / batchSize
        let workers = request.threads == 1 ? 1 : min(batchCount, onlineProcessorCount())
        var failures = 0
        func emit(_ block: ListingBlock) {
            var start = 0
            for (offset, error) in block.errors {
                if offset > start {
                    block.bytes.withUnsafeBytes { write(UnsafeRawBufferPointer(rebasing: $0[start..<offset])) }
                }
                start = offset
                diagnostics("roar hash: \(error)")
                failures += 1
            }
            if block.bytes.count > start {
                block.bytes.withUnsafeBytes { write(UnsafeRawBufferPointer(rebasing: $0[start...])) }
            }
        }
        guard workers > 1 else {
            let worker = ListingWorker()
            var start = 0
            while start < paths.count {
                let end = min(start + batchSize, paths.count)
                emit(worker.listing(of: paths[start..<end], request: request, reporter: reporter))
                start = end
            }
            return failures == 0 ? 0 : 1
        }
        // Workers fill the slots; the blocks are written in order once all are done (`write` stays on this thread).
        let slots = Mutex([ListingBlock?](repeating: nil, count: batchCount))
        let next = Atomic<Int>(0)
        DispatchQueue.concurrentPerform(iterations: workers) { _ in
            let worker = ListingWorker()
            while true {
                let batch = next.add(1, ordering: .relaxed).oldValue
                guard batch < batchCount else { return }
                let range = batch * batchSize..<min((batch + 1) * batchSize, paths.count)
                let block = worker.listing(of: paths[range], request: request, reporter: reporter)
                slots.withLock { $0[batch] = block }
            }
        }
        let blocks = slots.withLock { slots in
            defer { slots = [] }
            return slots
        }
        for block in blocks { emit(block!) }
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

    static func fileSize(_ fd: Int32) -> UInt64 {
        var info = stat()
        guard fstat(fd, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else { return 0 }
        return UInt64(info.st_size)
    }

    static func digest(of path: String, request: HashRequest, reporter: ProgressReporter?) throws(HashError)
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

/// Output of one batch of `roar hash`: listing lines as bytes, and the errors with the byte offset where each
/// falls between the lines.
struct ListingBlock: Sendable {
    var bytes: [UInt8] = []
    var errors: [(offset: Int, error: HashError)] = []
}

/// One worker of the listing: reused buffers (descriptors, digests, results, the read scratch), so a batch of
/// small files costs the system calls, one C call that hashes them together, and the bytes of its lines.
final class ListingWorker {
    private let scratch = BatchScratch()
    private let capacity = HashTool.batchSize
    private let fds: UnsafeMutablePointer<Int32>
    private let indexes: UnsafeMutablePointer<Int>
    private let results: UnsafeMutablePointer<Int32>
    private let digests: UnsafeMutableRawPointer

    init() {
        fds = .allocate(capacity: capacity)
        indexes = .allocate(capacity: capacity)
        results = .allocate(capacity: capacity)
        digests = .allocate(byteCount: capacity * Int(ROAR_BLAKE3_OUT_LEN), alignment: 16)
    }

    deinit {
        fds.deallocate()
        indexes.deallocate()
        results.deallocate()
        digests.deallocate()
    }

    private static let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)

    /// The lines of `paths` (at most `HashTool.batchSize`), in order.
    func listing(of paths: ArraySlice<String>, request: HashRequest, reporter: ProgressReporter?) -> ListingBlock {
        var block = ListingBlock()
        block.bytes.reserveCapacity(paths.count * (2 * Int(ROAR_BLAKE3_OUT_LEN) + 4 + 16))
        guard request.algorithm == .blake3 else {
            for path in paths {
                append(
                    Result { () throws(HashError) -> Digest in
                        try HashTool.digest(of: path, request: request, reporter: reporter)
                    }, path: path, to: &block)
            }
            return block
        }
        // Open the batch; "-", progress-sized files and open failures are settled one by one, in order, so the
        // batched ones are hashed together and their lines placed where they belong.
        var pending = [(index: Int, result: Result<Digest, HashError>)]()
        var count = 0
        for (index, path) in zip(0..., paths) {
            if path.utf8.count == 1 && path.utf8.first == UInt8(ascii: "-") {
                pending.append(
                    (
                        index,
                        Result { () throws(HashError) -> Digest in
                            try HashTool.digest(of: path, request: request, reporter: reporter)
                        }
                    ))
                continue
            }
            let fd = path.withCString { open($0, O_RDONLY | O_CLOEXEC) }
            guard fd >= 0 else {
                pending.append((index, .failure(HashError(code: .cannotOpen, path: path, underlyingErrno: errno))))
                continue
            }
            if let reporter, HashTool.fileSize(fd) >= HashTool.progressMinimumBytes {
                defer { close(fd) }
                pending.append(
                    (
                        index,
                        Result { () throws(HashError) -> Digest in
                            defer { reporter.finish(path: path) }
                            return try FileHasher.digest(ofFileDescriptor: fd, path: path, threads: request.threads) {
                                done, total in reporter.report(path: path, done: done, total: total)
                            }
                        }
                    ))
                continue
            }
            fds[count] = fd
            indexes[count] = index
            count += 1
        }
        if count > 0 {
            FileHasher.blake3Digests(
                ofFileDescriptors: fds, count: count, threads: request.threads, scratch: scratch, into: digests,
                results: results)
            for slot in 0..<count { close(fds[slot]) }
        }
        var nextPending = 0
        var slot = 0
        for (index, path) in zip(0..., paths) {
            if nextPending < pending.count && pending[nextPending].index == index {
                append(pending[nextPending].result, path: path, to: &block)
                nextPending += 1
                continue
            }
            let result = results[slot]
            let digest = UnsafeRawBufferPointer(
                start: digests + slot * Int(ROAR_BLAKE3_OUT_LEN), count: Int(ROAR_BLAKE3_OUT_LEN))
            slot += 1
            if result == 0 {
                appendLine(digest: digest, path: path, to: &block.bytes)
            } else {
                let code: HashError.Code = result == -EISDIR ? .cannotOpen : .cannotRead
                block.errors.append((block.bytes.count, HashError(code: code, path: path, underlyingErrno: -result)))
            }
        }
        return block
    }

    private func append(_ result: Result<Digest, HashError>, path: String, to block: inout ListingBlock) {
        switch result {
        case .success(let digest):
            digest.bytes.withUnsafeBytes { appendLine(digest: $0, path: path, to: &block.bytes) }
        case .failure(let error):
            block.errors.append((block.bytes.count, error))
        }
    }

    /// `<hex>  <path>\n`, escaped as b3sum does when the path holds a backslash or a newline.
    private func appendLine(digest: UnsafeRawBufferPointer, path: String, to bytes: inout [UInt8]) {
        var path = path
        let needsEscape = path.withUTF8 { utf8 in
            utf8.contains { $0 == UInt8(ascii: "\\") || $0 == 0x0A }
        }
        if needsEscape { bytes.append(UInt8(ascii: "\\")) }
        Self.hexDigits.withUnsafeBufferPointer { digits in
            for byte in digest {
                bytes.append(digits[Int(byte >> 4)])
                bytes.append(digits[Int(byte & 0x0F)])
            }
        }
        bytes.append(0x20)
        bytes.append(0x20)
        if needsEscape {
            for byte in path.utf8 {
                switch byte {
                case UInt8(ascii: "\\"):
                    bytes.append(UInt8(ascii: "\\"))
                    bytes.append(UInt8(ascii: "\\"))
                case 0x0A:
                    bytes.append(UInt8(ascii: "\\"))
                    bytes.append(UInt8(ascii: "n"))
                default: bytes.append(byte)
                }
            }
        } else {
            path.withUTF8 { bytes.append(contentsOf: $0) }
        }
        bytes.append(0x0A)
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
