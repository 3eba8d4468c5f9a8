import Foundation
public import RoarCore
public import RoarTransport
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// A lineage server as a streamed host-submit uses it (docs/ray-submit.md, "Streaming through
/// GLaaS"): the run's fragment session, what the cluster filed in it, and its end. `roar` gives
/// an HTTP client of the server's API; RoarRaySubmit knows only this protocol.
public protocol FragmentSessionService: Sendable {
    /// The server as the host reaches it, for messages.
    var server: String { get }
    func createSession(project: String, runID: String, keyFingerprint: String, ttlSeconds: Int)
        throws(RaySubmitError) -> CreatedFragmentSession
    /// Every batch filed after `cursor`, in arrival order.
    func batches(session: String, after cursor: Int64?) throws(RaySubmitError) -> [ListedSessionBatch]
    func batch(session: String, producer: String, seq: UInt64) throws(RaySubmitError) -> [UInt8]
    func closeSession(_ id: String) throws(RaySubmitError)
}

public struct CreatedFragmentSession: Sendable {
    public var id: String
    /// Files batches into this session and does nothing else: what the job's environment carries.
    public var capability: String

    public init(id: String, capability: String) {
        self.id = id
        self.capability = capability
    }
}

public struct ListedSessionBatch: Sendable, Hashable {
    public var cursor: Int64
    public var producer: String
    public var seq: UInt64

    public init(cursor: Int64, producer: String, seq: UInt64) {
        self.cursor = cursor
        self.producer = producer
        self.seq = seq
    }

    /// The name the agent gave the batch (`<producer>-<seq, 20 digits>.rbat`), which is also its
    /// file name in the run's `batches/`, beside those downloaded from the collector.
    public var fileName: String {
        let digits = String(seq)
        return producer + "-" + String(repeating: "0", count: max(0, 20 - digits.count)) + digits + ".rbat"
    }
}

/// The service for a server URL (with the token `roar login` stored for it), or why there is none.
public typealias FragmentSessionConnector =
    @Sendable (_ server: String) -> Result<
        any FragmentSessionService, RaySubmitError
    >

/// Where a streamed run's session is; kept in `submit.json` so that `roar fetch` and `roar
/// status` find it later.
public struct StreamingSession: Codable, Sendable, Equatable {
    /// The server as the host reaches it (`glaas.url`).
    public var server: String
    /// The server as the cluster reaches it (`ROAR_CLUSTER_GLAAS_URL`, else `server`).
    public var clusterServer: String
    public var project: String
    public var sessionID: String

    enum CodingKeys: String, CodingKey {
        case server, project
        case clusterServer = "cluster_server"
        case sessionID = "session_id"
    }
}

/// `glaas.url` for a host-submit: the node agents send their sealed batches to a session of the
/// run on the server while the job runs, instead of to the in-cluster collector.
public struct StreamingTarget: Sendable {
    /// The session's URL for the agents, and the capability they write with.
    public static let sessionURLVariable = "ROAR_GLAAS_SESSION_URL"
    public static let sessionTokenVariable = "ROAR_GLAAS_SESSION_TOKEN"
    /// The server's maximum: a `--no-wait` job's batches must still be there when `roar fetch`
    /// comes, days later perhaps. The host closes the session once the run is recorded.
    public static let sessionTimeToLive = 7 * 24 * 3600

    public var server: String
    public var clusterServer: String
    public var project: String
    public var connect: FragmentSessionConnector

    public init(server: String, clusterServer: String?, project: String, connect: @escaping FragmentSessionConnector) {
        self.server = server
        self.clusterServer = clusterServer.flatMap { $0.isEmpty ? nil : $0 } ?? server
        self.project = project
        self.connect = connect
    }

    /// The session and the job variables that send the cluster's batches to it.
    public struct Opened: Sendable {
        public var session: StreamingSession
        public var variables: [String: String]
        public var service: any FragmentSessionService
    }

    /// Makes the run's session. A failure is the reason this run goes through the collector.
    public func open(runID: String, publicKey: RunPublicKey) -> Result<Opened, RaySubmitError> {
        let service: any FragmentSessionService
        switch connect(server) {
        case .success(let connected): service = connected
        case .failure(let error): return .failure(error)
        }
        let created: CreatedFragmentSession
        do {
            created = try service.createSession(
                project: project, runID: runID, keyFingerprint: publicKey.fingerprint,
                ttlSeconds: Self.sessionTimeToLive)
        } catch {
            return .failure(error)
        }
        let base = clusterServer.hasSuffix("/") ? String(clusterServer.dropLast()) : clusterServer
        return .success(
            Opened(
                session: StreamingSession(
                    server: server, clusterServer: clusterServer, project: project, sessionID: created.id),
                variables: [
                    Self.sessionURLVariable: base + "/api/v1/sessions/" + created.id,
                    Self.sessionTokenVariable: created.capability,
                ], service: service))
    }
}

/// What the host has pulled of a streamed run so far (`progress.json` in the run's folder):
/// `roar status` shows it while the job runs.
public struct StreamProgress: Codable, Sendable, Equatable {
    public static let fileName = "progress.json"

    /// The last cursor pulled: the next pull asks for what came after it.
    public var cursor: Int64?
    public var batches = 0
    /// Spool bytes in the batches opened.
    public var spoolBytes: Int64 = 0
    /// Producers (`node-<id>`) seen, and those whose final batch came.
    public var producers: [String] = []
    public var finishedProducers: [String] = []
    public var tasksStarted = 0
    public var tasksEnded = 0
    public var fileRecords = 0
    /// Batches that did not open (name: why): reported by name again when the run is recorded.
    public var refused: [String: String] = [:]
    public var updatedAt: Double = 0

    public init() {}

    enum CodingKeys: String, CodingKey {
        case cursor, batches, producers, refused
        case spoolBytes = "spool_bytes"
        case finishedProducers = "finished_producers"
        case tasksStarted = "tasks_started"
        case tasksEnded = "tasks_ended"
        case fileRecords = "file_records"
        case updatedAt = "updated_at"
    }

    public static func read(from runDirectory: String) -> StreamProgress? {
        guard let data = FileManager.default.contents(atPath: runDirectory + "/" + fileName) else { return nil }
        return try? JSONDecoder().decode(StreamProgress.self, from: data)
    }

    func write(to runDirectory: String) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        guard let data = try? encoder.encode(self) else { return }
        try? data.write(to: URL(fileURLWithPath: runDirectory + "/" + Self.fileName), options: .atomic)
    }

    /// One line for `roar status`.
    public var summary: String {
        let nodes = producers.count
        var text =
            "\(batches) batch\(batches == 1 ? "" : "es") (\(spoolBytes / 1024) KiB of trace) from \(nodes) node\(nodes == 1 ? "" : "s"), "
            + "\(tasksStarted) task\(tasksStarted == 1 ? "" : "s") started, \(tasksEnded) ended"
        if !finishedProducers.isEmpty { text += ", \(finishedProducers.count) node(s) done" }
        if !refused.isEmpty { text += ", \(refused.count) refused" }
        return text
    }

    /// Counts what one opened batch holds.
    mutating func add(_ batch: SegmentBatch, producer: String) {
        batches += 1
        if !producers.contains(producer) { producers = (producers + [producer]).sorted() }
        if batch.isFinal, !finishedProducers.contains(producer) {
            finishedProducers = (finishedProducers + [producer]).sorted()
        }
        for segment in batch.segments {
            spoolBytes += Int64(segment.data.count)
            for record in SpoolReader.parse(segment.data, file: segment.file).records {
                switch record {
                case .file: fileRecords += 1
                case .event(_, _, let json):
                    switch try? RayTaskEvent.decode(json: json)?.event {
                    case .taskBegin?: tasksStarted += 1
                    case .taskEnd?: tasksEnded += 1
                    default: break
                    }
                default: break
                }
            }
        }
    }
}

/// Brings a streamed run's batches from its session into the run folder's `batches/`, where the
/// drain also puts what it downloads from the collector, so that assembly reads both alike; opens
/// each to keep ``StreamProgress``. Bytes are written as the server gave them: a batch that does not
/// open is refused by name when the run is assembled (`ClusterDrain.assemble`), like any other.
/// Pulls of the same run (`roar run` following its job, a `roar status` beside it) take turns on a lock.
public struct SessionPuller: Sendable {
    public var runDirectory: String
    public var session: StreamingSession
    public var keyPair: RunKeyPair
    public var runID: String
    public var service: any FragmentSessionService

    public init(
        runDirectory: String, session: StreamingSession, keyPair: RunKeyPair, runID: String,
        service: any FragmentSessionService
    ) {
        self.runDirectory = runDirectory
        self.session = session
        self.keyPair = keyPair
        self.runID = runID
        self.service = service
    }

    var batchDirectory: String { runDirectory + "/batches" }

    /// Pulls what is new. With `waiting` false, a pull already going on elsewhere is left to finish
    /// and its last progress is returned.
    @discardableResult
    public func pull(waiting: Bool = true) throws(RaySubmitError) -> StreamProgress {
        try? FileSystem.makeDirectory(batchDirectory)
        let lock = open(batchDirectory + "/.pull.lock", O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        defer { if lock >= 0 { close(lock) } }
        if lock >= 0, flock(lock, waiting ? LOCK_EX : LOCK_EX | LOCK_NB) != 0 {
            return StreamProgress.read(from: runDirectory) ?? StreamProgress()
        }
        var progress = StreamProgress.read(from: runDirectory) ?? StreamProgress()
        // What was pulled before a failure is kept: the next pull goes on from there.
        defer { progress.write(to: runDirectory) }
        try pullNew(into: &progress)
        return progress
    }

    func pullNew(into progress: inout StreamProgress) throws(RaySubmitError) {
        progress.updatedAt = Date().timeIntervalSince1970
        let opener = BatchOpener(keyPair: keyPair, expectedSessionID: runID)
        for listed in try service.batches(session: session.sessionID, after: progress.cursor) {
            guard Self.isSafeProducer(listed.producer) else {
                progress.refused["\(listed.producer.prefix(80))#\(listed.seq)"] = "not a producer name roar gives"
                progress.cursor = listed.cursor
                continue
            }
            let path = batchDirectory + "/" + listed.fileName
            if !FileSystem.exists(path) {
                let bytes = try service.batch(session: session.sessionID, producer: listed.producer, seq: listed.seq)
                do {
                    try FileSystem.replaceAtomically(path, with: bytes)
                } catch {
                    throw RaySubmitError(.spoolUnavailable, "cannot write \(path): \(error)", underlyingError: error)
                }
                do {
                    progress.add(try opener.open(bytes).batch, producer: listed.producer)
                } catch {
                    progress.refused[listed.fileName] = error.description
                }
            }
            progress.cursor = listed.cursor
        }
    }

    /// `node-<ray node id>` and the like: a file name that stays in `batches/`.
    static func isSafeProducer(_ producer: String) -> Bool {
        !producer.isEmpty && producer.utf8.count <= 200 && !producer.hasPrefix(".")
            && producer.utf8.allSatisfy {
                $0 < 0x80 && ($0 == 0x2D || $0 == 0x5F || $0 == 0x2E || isalnum(Int32($0)) != 0)
            }
    }
}

/// Pulls a streamed run's batches every couple of seconds while `ray job submit` waits for the
/// job, so that `roar status` can show its progress and little is left to fetch at the end. A
/// failed pull is kept quiet (the final pull after the job reports what is wrong).
public final class SessionFollower: Sendable {
    let stopped = Atomic<Bool>(false)
    let done = DispatchSemaphore(value: 0)

    public static let interval: Double = 2

    public init(_ puller: SessionPuller) {
        let thread = Thread { [self] in
            while !stopped.load(ordering: .relaxed) {
                _ = try? puller.pull()
                for _ in 0..<Int(Self.interval * 10) where !stopped.load(ordering: .relaxed) { usleep(100_000) }
            }
            done.signal()
        }
        thread.name = "roar-session-follower"
        thread.start()
    }

    /// Stops following and waits for a pull under way to finish.
    public func stop() {
        stopped.store(true, ordering: .relaxed)
        done.wait()
    }
}
