public import RoarCapture
public import RoarCore
public import RoarReconstitute
public import RoarStore
import RoarTransport

/// `roar fetch`: brings home the lineage of the host-submitted runs still waiting in
/// `.roar/spool/` (a `--no-wait` submit, or one whose lineage the cluster had not delivered when
/// `ray job submit` returned). A job still running stays pending; a finished one is drained and
/// recorded with Ray's final status.
public struct PendingSubmits {
    public var project: Project
    public var runtime: RuntimeFiles
    public var filter: PathFilter
    public var timeoutSeconds: Double
    /// Keep the batches and node spools after recording (`ROAR_KEEP_SPOOL`).
    public var keepsFiles: Bool
    /// The lineage server of runs that streamed there.
    public var connect: FragmentSessionConnector?

    public init(
        project: Project, runtime: RuntimeFiles, filter: PathFilter, timeoutSeconds: Double, keepsFiles: Bool,
        connect: FragmentSessionConnector? = nil
    ) {
        self.project = project
        self.runtime = runtime
        self.filter = filter
        self.timeoutSeconds = timeoutSeconds
        self.keepsFiles = keepsFiles
        self.connect = connect
    }

    /// What became of one pending submit.
    public enum Report {
        /// Ray says the job is not finished (its status, e.g. `RUNNING`): fetch again later.
        case stillRunning(status: String)
        /// Recorded; `status` is Ray's final status.
        case recorded(status: String, outcome: Reconstituter.Outcome, notes: [String])
        /// The job has finished but its lineage could not be fetched yet: why. Still pending.
        case notDelivered(String)
        /// The run cannot be fetched or recorded (its key, the cluster, the store): why.
        case failed(RaySubmitError)
        case notRecorded(StoreError)
    }

    /// The submission ids of `ids` that no pending run has.
    public func unknown(_ ids: [String]) -> [String] {
        let pending = Set(ClusterDrain.pendingRuns(of: project).map(\.record.submissionID))
        return ids.filter { !pending.contains($0) }
    }

    /// Fetches the pending runs with these submission ids (every pending run when empty), oldest first.
    public func fetch(_ ids: [String] = [], into store: RoarStore) -> [(submissionID: String, report: Report)] {
        var pending = ClusterDrain.pendingRuns(of: project)
        if !ids.isEmpty { pending = pending.filter { ids.contains($0.record.submissionID) } }
        return pending.map { ($0.record.submissionID, fetch($0, into: store)) }
    }

    func fetch(_ run: ClusterDrain.PendingRun, into store: RoarStore) -> Report {
        let keyPair: RunKeyPair
        do {
            keyPair = try RunKeyPair.load(from: run.directory + "/" + SubmitRecord.keyFileName)
        } catch {
            return .failed(
                RaySubmitError(
                    .spoolUnavailable,
                    "the run key \(run.directory)/\(SubmitRecord.keyFileName) is unusable (\(error.description)); "
                        + "its batches cannot be opened",
                    underlyingError: error))
        }
        var drain = ClusterDrain(
            runDirectory: run.directory, record: run.record, keyPair: keyPair, runtime: runtime, filter: filter,
            timeoutSeconds: timeoutSeconds)
        drain.sessionService = run.record.session.map { session in
            connect?(session.server)
                ?? .failure(RaySubmitError(.streamingFailed, "roar has no client for \(session.server)"))
        }
        let state: ClusterDrain.JobState
        do {
            state = try drain.jobState()
        } catch {
            return .failed(error)
        }
        guard state.isTerminal else { return .stillRunning(status: state.status) }
        let root = ClusterDrain.finishedRoot(run.manifest.root, state: state)
        switch drain.fetchAndRecord(root: root, store: store, keepsFiles: keepsFiles) {
        case .recorded(let outcome, let notes): return .recorded(status: state.status, outcome: outcome, notes: notes)
        case .notDelivered(let reason): return .notDelivered(reason)
        case .failed(let error): return .notRecorded(error)
        }
    }
}

extension ClusterDrain {
    /// True for a run folder of a host-submitted run: its trace is on the cluster, and
    /// `roar fetch` (not `roar recover`) records it.
    public static func isPendingSubmit(_ runDirectory: String) -> Bool {
        SubmitRecord.read(from: runDirectory) != nil
    }
}
