// RoarRaySubmit: `roar run ray job submit …` (docs/ray-submit.md). RaySubmitCommand reads the
// command, RaySubmitRewrite builds the new one with RuntimeEnvironmentMerge (the one runtime_env
// policy, shared with python/roar_runtime/driver.py) and RuntimeEnvironmentYAML (Yams),
// ClusterSubmission runs it, ClusterDrain brings the lineage home, PendingSubmits is `roar fetch`.

import Foundation
public import RoarCapture
public import RoarCore
public import RoarReconstitute
public import RoarStore
public import RoarTransport

#if canImport(Glibc)
    import Glibc
#endif

/// Brings a host-submitted run's lineage home after the job has ended:
///
/// 1. `python -m roar_runtime.drain batches` (with the Python of the user's `ray`) downloads the
///    sealed batches the in-cluster collector spilled, through the dashboard's log API;
/// 2. each batch is opened with the run's private key (a batch that fails is reported by name
///    and skipped, the rest merge);
/// 3. the spool segments are written back into node spool files under `nodes/`, node paths are
///    restored to host paths, and the run is assembled exactly as a local run is, with the
///    digests the node agents computed for what tasks read.
///
/// A streamed run (``SubmitRecord/session``) has its batches on the lineage server too: they are
/// pulled into `batches/` beside the collector's before assembly (``SessionPuller``).
///
/// Idempotent: draining and recording the same run again changes nothing.
public struct ClusterDrain {
    public var runDirectory: String
    public var record: SubmitRecord
    public var keyPair: RunKeyPair
    public var runtime: RuntimeFiles
    public var filter: PathFilter
    /// How long to wait for the cluster to deliver (`ROAR_DRAIN_TIMEOUT`, seconds).
    public var timeoutSeconds: Double
    /// The lineage server of a streamed run, or why it cannot be used now.
    public var sessionService: Swift.Result<any FragmentSessionService, RaySubmitError>?

    public init(
        runDirectory: String, record: SubmitRecord, keyPair: RunKeyPair, runtime: RuntimeFiles, filter: PathFilter,
        timeoutSeconds: Double = 60
    ) {
        self.runDirectory = runDirectory
        self.record = record
        self.keyPair = keyPair
        self.runtime = runtime
        self.filter = filter
        self.timeoutSeconds = timeoutSeconds
    }

    public enum Result {
        case recorded(Reconstituter.Outcome, notes: [String])
        /// Nothing to record yet (the cluster did not deliver, or could not be reached): why.
        case notDelivered(String)
        case failed(StoreError)
    }

    /// Coverage counters of the run job for lineage that never came home from the cluster.
    /// `agent_lost`: nodes whose agent made no complete final round (its actor or node died, or its
    /// `roar-agent` kept crashing): what the node recorded after its last forwarded batch is missing.
    public static let agentLostCounter = "agent_lost"
    /// `collector_lost`: the collector died before the job's end; every node's lineage after the
    /// last batch it spilled is missing.
    public static let collectorLostCounter = "collector_lost"
    /// `batch_lost`: batches listed by the collector that could not be downloaded.
    public static let batchLostCounter = "batch_lost"

    /// `ROAR_DRAIN_TIMEOUT` (seconds), else 60.
    public static func timeout(environment: [String: String]) -> Double {
        environment["ROAR_DRAIN_TIMEOUT"].flatMap(Double.init).map { max(1, $0) } ?? 60
    }

    var batchDirectory: String { runDirectory + "/batches" }
    var nodeSpoolDirectory: String { runDirectory + "/nodes" }

    /// - Parameter helper: the download started ahead (``startFetching()``), or nil to start it now.
    public func fetchAndRecord(root: Job, store: RoarStore, keepsFiles: Bool, helper: StartedHelper? = nil) -> Result {
        let fetched: HelperReply
        do {
            let running: StartedHelper
            if let helper { running = helper } else { running = try startFetching() }
            fetched = try running.proceed()
        } catch {
            return .notDelivered(error.message)
        }
        guard fetched.ok else { return .notDelivered("the cluster's lineage could not be fetched: \(fetched.detail)") }
        var notes = fetched.problems.map { "batch not downloaded: \($0)" }
        // What did not come home is counted on the run (docs/reliability.md): `roar status`,
        // `roar show` and the DAG's `coverage` say so, not only this run's messages.
        var root = root
        let collectorLost = fetched.fields["collector_lost"] as? Bool ?? false
        if collectorLost {
            root.coverage[Self.collectorLostCounter, default: 0] += 1
            notes.append(
                "roar's collector on the cluster was lost before the job's end: what it had received is recorded, the rest of the job's lineage is not"
            )
        }
        if fetched.missingNodes.count > 0 {
            root.coverage[Self.agentLostCounter, default: 0] += fetched.missingNodes.count
            notes.append(
                "no final word from the roar agent of node(s) \(fetched.missingNodes.joined(separator: ", ")): what they shipped before is recorded"
            )
        }
        if !fetched.problems.isEmpty {
            root.coverage[Self.batchLostCounter, default: 0] += fetched.problems.count
        }
        var service: (any FragmentSessionService)?
        if let session = record.session {
            switch pullStreamed(session, reply: fetched) {
            case .success(let pulled):
                service = pulled.service
                notes += pulled.notes
                if pulled.lostBatches > 0 { root.coverage[Self.batchLostCounter, default: 0] += pulled.lostBatches }
            case .failure(let error):
                // The batches are safe on the server: the run stays pending until they can be read.
                return .notDelivered(error.message)
            }
        }
        let assembled = assemble()
        notes += assembled.notes
        if assembled.refused > 0 { root.coverage[Self.batchLostCounter, default: 0] += assembled.refused }
        do {
            let outcome = try Reconstituter(store: store, filter: filter).reconstitute(
                spools: assembled.spools, problems: assembled.problems, root: root, runID: record.runID,
                resolver: assembled.resolver, marksClusterOnly: true)
            if !keepsFiles { FileSystem.removeTree(runDirectory) }
            if let service, let session = record.session { try? service.closeSession(session.sessionID) }
            return .recorded(outcome, notes: notes)
        } catch {
            return .failed(error)
        }
    }

    // MARK: - The streamed batches

    /// The puller of a streamed run whose server can be used, else nil.
    public func sessionPuller() -> SessionPuller? {
        guard let session = record.session, case .success(let service)? = sessionService else { return nil }
        return SessionPuller(
            runDirectory: runDirectory, session: session, keyPair: keyPair, runID: record.runID, service: service)
    }

    struct StreamedPull {
        var service: any FragmentSessionService
        var notes: [String]
        /// Batches the agents streamed that the server does not have.
        var lostBatches: Int
    }

    /// The final pull of a streamed run, once the collector's manifest says every agent is done (so
    /// everything streamed is on the server).
    func pullStreamed(_ session: StreamingSession, reply: HelperReply) -> Swift.Result<StreamedPull, RaySubmitError> {
        let unreadable = { (why: String) in
            RaySubmitError(
                .streamingFailed, "this run's batches are on GLaaS at \(session.server) and could not be read: \(why)")
        }
        guard let sessionService else { return .failure(unreadable("no client for it")) }
        let service: any FragmentSessionService
        switch sessionService {
        case .success(let connected): service = connected
        case .failure(let error): return .failure(unreadable(error.message))
        }
        let puller = SessionPuller(
            runDirectory: runDirectory, session: session, keyPair: keyPair, runID: record.runID, service: service)
        do {
            try puller.pull()
        } catch {
            return .failure(unreadable(error.message))
        }
        var notes: [String] = []
        let streamed = reply.fields["streamed"] as? [String] ?? []
        let missing = streamed.filter { !FileSystem.exists(batchDirectory + "/" + $0) }.sorted()
        if !missing.isEmpty {
            notes.append(
                "\(missing.count) batch(es) the cluster streamed are not on GLaaS at \(session.server) "
                    + "(\(missing.prefix(3).joined(separator: ", "))\(missing.count > 3 ? ", …" : "")): their part of the lineage is missing"
            )
        }
        let fallbacks = reply.fields["stream_fallbacks"] as? [String: String] ?? [:]
        if let reason = fallbacks.values.sorted().first {
            notes.append(
                "node(s) \(fallbacks.keys.sorted().joined(separator: ", ")) could not stream to GLaaS at "
                    + "\(session.clusterServer) (\(reason)); their batches came through the in-cluster collector")
        }
        return .success(StreamedPull(service: service, notes: notes, lostBatches: missing.count))
    }

    // MARK: - Opening and reassembling

    struct Assembled {
        var spools: [SpoolReader.Contents]
        var problems: [SpoolProblem]
        var resolver: NodeDigestResolver
        var notes: [String]
        /// Batches that did not open (tampered, of another run, damaged): each is named in `notes`.
        var refused = 0
    }

    /// Opens every downloaded batch, writes the segments into `nodes/`, and reads the spools back
    /// with host paths.
    func assemble() -> Assembled {
        var notes: [String] = []
        var refused = 0
        var restorer = PathRestorer()
        var reads: [(version: FileVersion, digest: String)] = []
        var current: [(path: String, version: FileVersion, digest: String)] = []
        try? FileSystem.makeDirectory(nodeSpoolDirectory)
        let opener = BatchOpener(keyPair: keyPair, expectedSessionID: record.runID)
        for name in FileSystem.names(in: batchDirectory).sorted() where name.hasSuffix(".rbat") {
            guard let bytes = FileManager.default.contents(atPath: batchDirectory + "/" + name) else {
                notes.append("batch \(name) could not be read; skipped")
                refused += 1
                continue
            }
            let opened: OpenedSegmentBatch
            do {
                opened = try opener.open(Array(bytes))
            } catch {
                notes.append("batch \(name) refused: \(error.description); skipped, the others are recorded")
                refused += 1
                continue
            }
            let batch = opened.batch
            if let map = batch.pathMap, restorer.isEmpty { restorer = map }
            for segment in batch.segments {
                if let problem = write(segment) { notes.append("batch \(name): \(problem)") }
            }
            reads += batch.readDigests.map { ($0.version, $0.blake3) }
            current += batch.currentDigests.map { ($0.path, $0.version, $0.blake3) }
        }

        var resolver = NodeDigestResolver()
        for entry in reads { resolver.addRead(version: entry.version, digest: entry.digest) }
        for entry in current {
            resolver.addCurrent(path: restorer.restore(entry.path), version: entry.version, digest: entry.digest)
        }
        let (spools, problems) = SpoolCollector.read(directory: nodeSpoolDirectory)
        let restored = spools.map { contents in
            var copy = contents
            copy.records = contents.records.map { $0.mappingPaths(restorer.restore) }
            return copy
        }
        return Assembled(spools: restored, problems: problems, resolver: resolver, notes: notes, refused: refused)
    }

    /// Writes one segment at its offset in its node spool file; a problem for a name that
    /// would leave `nodes/`.
    func write(_ segment: SegmentBatch.Segment) -> String? {
        let name = segment.file
        guard !name.isEmpty, !name.hasPrefix("/"), !name.split(separator: "/").contains(".."), segment.offset >= 0
        else {
            return "segment for '\(name)' refused: not a spool file name"
        }
        let path = nodeSpoolDirectory + "/" + name.replacingOccurrences(of: "/", with: "_")
        let descriptor = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { return "cannot write \(path): \(String(cString: strerror(errno)))" }
        defer { close(descriptor) }
        let written = segment.data.withUnsafeBytes { raw in
            pwrite(descriptor, raw.baseAddress, raw.count, off_t(segment.offset))
        }
        return written == segment.data.count ? nil : "short write to \(path)"
    }

    // MARK: - The Python helper

    struct HelperReply {
        var ok: Bool
        var detail: String
        var problems: [String]
        var missingNodes: [String]
        var fields: [String: Any]
    }

    /// `python -m roar_runtime.drain` started ahead of time: it imports Ray and connects while
    /// the job runs, then waits for ``proceed()`` (a line on its stdin) before doing its work.
    public final class StartedHelper {
        let process: Process
        let input: Pipe
        let output: Pipe
        let errors: Pipe
        let python: String

        init(process: Process, input: Pipe, output: Pipe, errors: Pipe, python: String) {
            self.process = process
            self.input = input
            self.output = output
            self.errors = errors
            self.python = python
        }

        /// Lets it work and waits for its answer.
        func proceed() throws(RaySubmitError) -> HelperReply {
            // A helper that already died must not take roar down with SIGPIPE: its stderr says why.
            let previous = signal(SIGPIPE, SIG_IGN)
            try? input.fileHandleForWriting.write(contentsOf: Data("go\n".utf8))
            try? input.fileHandleForWriting.close()
            signal(SIGPIPE, previous)
            let outData = output.fileHandleForReading.readDataToEndOfFile()
            let errData = errors.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            let lastLine = String(decoding: outData, as: UTF8.self).split(separator: "\n").last.map(String.init) ?? ""
            guard let json = try? JSONSerialization.jsonObject(with: Data(lastLine.utf8)) as? [String: Any] else {
                let stderrText = String(decoding: errData, as: UTF8.self).split(separator: "\n").suffix(3)
                    .joined(separator: " | ")
                throw RaySubmitError(
                    .drainFailed,
                    "\(python) -m roar_runtime.drain failed (status \(process.terminationStatus)): \(stderrText)")
            }
            return HelperReply(
                ok: json["ok"] as? Bool ?? false, detail: json["detail"] as? String ?? "",
                problems: json["problems"] as? [String] ?? [], missingNodes: json["missing_nodes"] as? [String] ?? [],
                fields: json)
        }

        /// Not needed after all (`--no-wait`, a failed submit): it exits on the closed stdin.
        public func cancel() {
            try? input.fileHandleForWriting.close()
            process.waitUntilExit()
        }
    }

    /// Starts `python -m roar_runtime.drain <arguments>` against the job's dashboard.
    func startHelper(_ arguments: [String]) throws(RaySubmitError) -> StartedHelper {
        var argv = [record.python, "-m", "roar_runtime.drain"] + arguments + ["--wait-for-go"]
        if let address = record.address { argv += ["--address", address] }
        if let headers = record.headers { argv += ["--headers", headers] }
        if let verify = record.verify { argv += ["--verify", verify] }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = argv
        var environment = ProcessInfo.processInfo.environment
        environment["PYTHONPATH"] = runtime.pythonDirectory + (environment["PYTHONPATH"].map { ":" + $0 } ?? "")
        for key in environment.keys where key.hasPrefix("ROAR_") || key == "LD_PRELOAD" { environment[key] = nil }
        process.environment = environment
        let helper = StartedHelper(
            process: process, input: Pipe(), output: Pipe(), errors: Pipe(), python: record.python)
        process.standardInput = helper.input
        process.standardOutput = helper.output
        process.standardError = helper.errors
        do {
            try process.run()
        } catch {
            throw RaySubmitError(
                .drainFailed, "cannot run \(record.python) to fetch the lineage: \(error.localizedDescription)",
                underlyingError: error)
        }
        return helper
    }

    /// Starts the batch download, to be let go once the job has ended.
    public func startFetching() throws(RaySubmitError) -> StartedHelper {
        try startHelper([
            "batches", "--run", record.runID, "--out", batchDirectory, "--timeout", String(timeoutSeconds),
        ])
    }

    func runHelper(_ arguments: [String]) throws(RaySubmitError) -> HelperReply {
        try startHelper(arguments).proceed()
    }
}

// MARK: - Runs waiting for their lineage (`roar fetch`)

extension ClusterDrain {
    /// A submitted run whose lineage is not recorded yet.
    public struct PendingRun: Sendable {
        public var directory: String
        public var record: SubmitRecord
        public var manifest: RunManifest
    }

    /// Every host-submitted run of the project still waiting in `.roar/spool/`, oldest first.
    public static func pendingRuns(of project: Project) -> [PendingRun] {
        FileSystem.names(in: project.spoolRoot).compactMap { name in
            let directory = project.spoolRoot + "/" + name
            guard let record = SubmitRecord.read(from: directory), let manifest = RunManifest.read(from: directory)
            else { return nil }
            return PendingRun(directory: directory, record: record, manifest: manifest)
        }.sorted { $0.record.submittedAt < $1.record.submittedAt }
    }

    /// The job's state as Ray reports it.
    public struct JobState: Sendable {
        public var status: String
        public var isTerminal: Bool
        public var message: String
        public var startedAt: Double?
        public var endedAt: Double?
        public var driverExitCode: Int?
    }

    public func jobState() throws(RaySubmitError) -> JobState {
        let reply = try runHelper(["status", "--submission-id", record.submissionID])
        guard reply.ok else { throw RaySubmitError(.drainFailed, reply.detail) }
        let milliseconds = { (key: String) -> Double? in (reply.fields[key] as? NSNumber).map { $0.doubleValue / 1000 }
        }
        return JobState(
            status: reply.fields["status"] as? String ?? "UNKNOWN",
            isTerminal: reply.fields["terminal"] as? Bool ?? false,
            message: reply.fields["message"] as? String ?? "", startedAt: milliseconds("start_time"),
            endedAt: milliseconds("end_time"), driverExitCode: (reply.fields["driver_exit_code"] as? NSNumber)?.intValue
        )
    }

    /// The root job of a finished submit, from what Ray says of the job.
    public static func finishedRoot(_ root: Job, state: JobState) -> Job {
        var job = root
        switch state.status {
        case "SUCCEEDED": job.status = .ok
        case "STOPPED":
            job.status = .killed
            job.error = "the Ray job was stopped"
        default:
            job.status = .failed
            if !state.message.isEmpty { job.error = state.message }
        }
        job.exitCode = state.driverExitCode ?? (job.status == .ok ? 0 : 1)
        if let end = state.endedAt { job.durationSeconds = max(0, end - job.startedAt) }
        return job
    }
}
