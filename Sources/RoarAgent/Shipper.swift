public import RoarCore
import RoarTransport

/// Ships a node's spool directory as sealed `roar.segments/1` batches, one round at a time:
/// the new complete lines of every spool file, digests of the files tasks read (only the node
/// can hash them), and in the final round the current digests the host would otherwise take
/// from its own disk. Rounds never modify the spool; they only read it.
public struct Shipper {
    public let configuration: ShipperConfiguration
    public private(set) var state: ShipperState
    var hasher = VersionHasher()
    let sealer: BatchSealer
    /// (path, version) pairs already sent in `read_digests`: each goes out once per agent lifetime.
    var shippedReads: Set<PathVersion> = []
    /// Which reads the host needs a digest for (the host's own rule), fed with every write seen.
    var readDigestPolicy = ReadDigestPolicy()
    var reportedMissingSpool = false

    struct PathVersion: Hashable {
        var path: String
        var version: FileVersion
    }

    /// What one round did.
    public struct RoundReport: Sendable, Equatable {
        /// Outbox files written, in order.
        public var batchFiles: [String] = []
        public var segmentBytes = 0
        /// The round produced nothing because the outbox was full (or became full mid-round).
        public var heldBack = false
        /// A batch could not be written (the error was logged); the data stays for the next round.
        public var failed = false
    }

    public init(configuration: ShipperConfiguration) throws(AgentError) {
        self.configuration = configuration
        do {
            try FileSystem.makeDirectories(configuration.outboxDirectory)
        } catch {
            throw AgentError(.outboxUnavailable, error)
        }
        state = try ShipperState.load(from: configuration.statePath, sessionID: configuration.sessionID)
        sealer = BatchSealer(
            recipient: configuration.recipient, sessionID: configuration.sessionID, producer: configuration.producer)
    }

    // MARK: - Rounds

    /// Ships what is new. `final`: also ship when nothing is new, mark the last batch final, add
    /// current digests, and ignore the outbox limit (the host must get the final marker).
    @discardableResult
    public mutating func runRound(final: Bool = false) -> RoundReport {
        var report = RoundReport()
        if !final && outboxIsFull() {
            report.heldBack = true
            return report
        }
        let files = spoolFiles()
        let present = Set(files.map(\.name))
        for name in state.files.keys where !present.contains(name) {
            state.files[name] = nil  // vanished: forget it
        }

        var pending = PendingBatch(hashedFilesAtStart: hasher.hashedFiles, failuresAtStart: hasher.failures)
        var stopped = false
        fileLoop: for file in files {
            var offset: Int64 = 0
            if let shipped = state.files[file.name], shipped.inode == file.version.inode {
                if file.version.size < shipped.offset {
                    configuration.log(
                        "\(file.path): spool file shrank from \(shipped.offset) to \(file.version.size) bytes; shipping it again from the start"
                    )
                } else {
                    offset = shipped.offset
                }
            }
            while offset < file.version.size {
                let piece: [UInt8]
                do {
                    guard let lines = try completeLines(of: file, from: offset) else { break }
                    piece = lines
                } catch {
                    configuration.log("\(error); skipping the rest of this file this round")
                    pending.unreadableFiles += 1
                    break
                }
                if !pending.segments.isEmpty && pending.bytes + piece.count > configuration.maximumBatchBytes {
                    guard write(&pending, final: false, into: &report) else {
                        stopped = true
                        break fileLoop
                    }
                    if !final && outboxIsFull() {
                        report.heldBack = true
                        stopped = true
                        break fileLoop
                    }
                }
                add(piece, of: file, at: offset, to: &pending)
                offset += Int64(piece.count)
            }
        }
        // Held back, or a batch could not be written: the rest waits for the next round. A final round
        // that failed must not claim to be final with lines missing: the caller reports the failure.
        if stopped { return report }
        if final {
            pending.currentDigests = currentDigests()
            _ = write(&pending, final: true, into: &report)
        } else if !pending.segments.isEmpty {
            _ = write(&pending, final: false, into: &report)
        }
        return report
    }

    /// A batch being filled.
    struct PendingBatch {
        var segments: [SegmentBatch.Segment] = []
        var readDigests: [SegmentBatch.FileDigest] = []
        var currentDigests: [SegmentBatch.FileDigest] = []
        var bytes = 0
        /// Offset (and inode) each file will have reached once this batch is written.
        var reached: [String: ShipperState.ShippedFile] = [:]
        var hashedFilesAtStart = 0
        var failuresAtStart = 0
        var unreadableFiles = 0
    }

    mutating func add(_ piece: [UInt8], of file: SpoolFile, at offset: Int64, to pending: inout PendingBatch) {
        pending.segments.append(SegmentBatch.Segment(file: file.name, offset: offset, data: piece))
        pending.bytes += piece.count
        pending.reached[file.name] = ShipperState.ShippedFile(
            offset: offset + Int64(piece.count), inode: file.version.inode)
        pending.readDigests += readDigests(in: piece, of: file)
    }

    /// Seals `pending` as the next batch, writes it to the outbox, then records the new offsets.
    /// Returns false (after logging) when the batch could not be written.
    mutating func write(_ pending: inout PendingBatch, final: Bool, into report: inout RoundReport) -> Bool {
        let sequenceNumber = state.nextSequenceNumber
        let batch = SegmentBatch(
            sessionID: configuration.sessionID, producer: configuration.producer, isFinal: final,
            pathMap: configuration.pathRestorer, segments: pending.segments, readDigests: pending.readDigests,
            currentDigests: pending.currentDigests,
            stats: SegmentBatch.Stats(
                files: Set(pending.segments.map(\.file)).count, bytes: pending.bytes,
                hashedFiles: hasher.hashedFiles - pending.hashedFilesAtStart,
                hashFailures: hasher.failures - pending.failuresAtStart + pending.unreadableFiles))
        let path = configuration.outboxDirectory + "/" + configuration.batchFileName(sequenceNumber: sequenceNumber)
        do {
            let sealed = try sealer.seal(batch, sequenceNumber: sequenceNumber)
            // Reserve the seq first: a crash after the batch is in place must not re-use it.
            state.nextSequenceNumber = sequenceNumber + 1
            try state.save(to: configuration.statePath)
            try FileSystem.replaceAtomically(path, with: sealed)
            for (name, reached) in pending.reached { state.files[name] = reached }
            try state.save(to: configuration.statePath)
        } catch let error as FileSystem.Failure {
            configuration.log("\(error); batch \(sequenceNumber) not written, its lines are retried next round")
            report.failed = true
            return false
        } catch let error as AgentError {
            configuration.log("\(error); batch \(sequenceNumber) not written, its lines are retried next round")
            report.failed = true
            return false
        } catch {
            configuration.log("\(path): cannot seal batch \(sequenceNumber): \(error)")
            report.failed = true
            return false
        }
        report.batchFiles.append(path)
        report.segmentBytes += pending.bytes
        pending = PendingBatch(hashedFilesAtStart: hasher.hashedFiles, failuresAtStart: hasher.failures)
        return true
    }

    func outboxIsFull() -> Bool {
        let entries = (try? FileSystem.entries(of: configuration.outboxDirectory)) ?? []
        return entries.count(where: { $0.isFile && $0.name.hasSuffix(".rbat") }) >= configuration.maximumOutboxFiles
    }

    // MARK: - Reading spool files

    struct SpoolFile {
        /// Relative to the spool directory.
        var name: String
        var path: String
        /// At listing time: lines appended later wait for the next round.
        var version: FileVersion
    }

    /// Every `*.spool` file under the spool directory (subfolders too, symlinks not followed),
    /// sorted by name.
    mutating func spoolFiles() -> [SpoolFile] {
        let root = configuration.spoolDirectory
        guard FileSystem.isDirectory(root) else {
            if !reportedMissingSpool {
                configuration.log("\(root): spool directory does not exist (yet); nothing to ship")
                reportedMissingSpool = true
            }
            return []
        }
        var found: [SpoolFile] = []
        var folders: [(relative: String, depth: Int)] = [("", 0)]
        while let (relative, depth) = folders.popLast() {
            let directory = relative.isEmpty ? root : root + "/" + relative
            let entries: [(name: String, isDirectory: Bool, isFile: Bool)]
            do {
                entries = try FileSystem.entries(of: directory)
            } catch {
                configuration.log("\(error)")
                continue
            }
            for entry in entries {
                let name = relative.isEmpty ? entry.name : relative + "/" + entry.name
                if entry.isDirectory && depth < 8 {
                    folders.append((name, depth + 1))
                } else if entry.isFile && entry.name.hasSuffix(".spool"),
                    let version = FileSystem.version(ofFileAt: root + "/" + name)
                {
                    found.append(SpoolFile(name: name, path: root + "/" + name, version: version))
                }
            }
        }
        return found.sorted { $0.name < $1.name }
    }

    /// The complete lines of `file` from `offset`: at most `maximumBatchBytes`, except a single
    /// line longer than that, which comes whole. Nil when only an unfinished line is left.
    func completeLines(of file: SpoolFile, from offset: Int64) throws(FileSystem.Failure) -> [UInt8]? {
        let limit = configuration.maximumBatchBytes
        let available = Int(file.version.size - offset)
        var bytes = try FileSystem.read(file.path, from: offset, count: min(limit, available))
        if let lastNewline = bytes.lastIndex(of: UInt8(ascii: "\n")) {
            bytes.removeSubrange((lastNewline + 1)...)
            return bytes
        }
        guard bytes.count == limit else { return nil }
        // One line longer than a batch: read on to its end and ship it alone.
        while true {
            let more = try FileSystem.read(file.path, from: offset + Int64(bytes.count), count: limit)
            if more.isEmpty { return nil }
            if let newline = more.firstIndex(of: UInt8(ascii: "\n")) {
                bytes += more[...newline]
                return bytes
            }
            bytes += more
        }
    }

    // MARK: - Digests

    /// Digests for the reads recorded in `piece` that need one (`ReadDigestPolicy`) and whose restored
    /// path is lineage, each (path, version) once per agent lifetime, and only for versions still on disk.
    mutating func readDigests(in piece: [UInt8], of file: SpoolFile) -> [SegmentBatch.FileDigest] {
        var digests: [SegmentBatch.FileDigest] = []
        for record in SpoolReader.parse(piece, file: file.name).records {
            guard case .file(let access) = record else { continue }
            readDigestPolicy.note(access)
            guard readDigestPolicy.needsFileDigest(forRead: access), isLineage(access.path) else { continue }
            let key = PathVersion(path: access.path, version: access.version)
            guard !shippedReads.contains(key) else { continue }
            shippedReads.insert(key)
            if let (digest, version) = hasher.digest(ofPath: access.path, ifVersion: access.version) {
                digests.append(SegmentBatch.FileDigest(path: access.path, version: version, blake3: digest))
            }
        }
        return digests
    }

    /// Final round: the current digest of every lineage path that reconstitution hashes as found
    /// (`ReadDigestPolicy.pathHashedAsFound(by:)`) anywhere in the spool. Paths that no longer exist are
    /// left out.
    mutating func currentDigests() -> [SegmentBatch.FileDigest] {
        var paths: Set<String> = []
        for file in spoolFiles() {
            let bytes: [UInt8]
            do {
                bytes = try FileSystem.read(file.path, from: 0, count: Int(file.version.size))
            } catch {
                configuration.log("\(error); its files get no current digest")
                continue
            }
            for record in SpoolReader.parse(bytes, file: file.name).records {
                if let path = ReadDigestPolicy.pathHashedAsFound(by: record), isLineage(path) { paths.insert(path) }
            }
        }
        var digests: [SegmentBatch.FileDigest] = []
        for path in paths.sorted() {
            guard let (digest, version) = hasher.digest(ofPath: path, ifVersion: nil) else { continue }
            digests.append(SegmentBatch.FileDigest(path: path, version: version, blake3: digest))
        }
        return digests
    }

    /// Whether the host records this node path: the host filter on the restored path.
    func isLineage(_ nodePath: String) -> Bool {
        configuration.filter.isRecorded(configuration.pathRestorer?.restore(nodePath) ?? nodePath)
    }
}
