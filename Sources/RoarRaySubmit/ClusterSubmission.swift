import Foundation
public import RoarCapture
import RoarCore
import RoarReconstitute
public import RoarStore
import RoarTransport

#if canImport(Glibc)
    import Glibc
#endif

/// `roar run ray job submit …`: submits the job with roar riding along (``RaySubmitRewrite``),
/// then brings the cluster's lineage home (``ClusterDrain``) and records it like a local run.
///
/// The `ray job submit` process itself is not traced: what it reads is the upload of the
/// working dir, not the pipeline's input. What the job did is traced on the cluster.
public struct ClusterSubmission {
    /// Where workers write their spools on every node (node-local disk, never the host's).
    public static let nodeRunRoot = "/tmp/roar-cluster"

    /// `py_executable` for workers: finds `roar-worker` in roar's bundle on `PYTHONPATH` (where
    /// `py_modules` puts it; its folder is unknown before Ray unpacks it on the node). Ray runs
    /// workers as `bash -c "… exec <py_executable> <python args>"`, so this is shell text.
    public static let workerLauncherSnippet =
        #""$(IFS=:; for d in $PYTHONPATH; do if [ -x "$d/roar_runtime/bin/roar-worker" ]; then printf %s "$d/roar_runtime/bin/roar-worker"; exit 0; fi; done; printf python3)""#

    public var traced: TracedRun
    public var command: RaySubmitCommand
    /// `glaas.url`: the cluster streams the run's batches to a session there (nil: collector only).
    public var streaming: StreamingTarget?

    public init(traced: TracedRun, command: RaySubmitCommand, streaming: StreamingTarget? = nil) {
        self.traced = traced
        self.command = command
        self.streaming = streaming
    }

    /// What `roar run` reports about a submit.
    public struct Outcome: Sendable {
        public var result: TracedRun.Result
        public var submissionID: String
        /// Set when the lineage is not recorded yet (`--no-wait`, or the cluster did not deliver it):
        /// what the user should do.
        public var pendingReason: String?
        public var notes: [String]
    }

    public func execute(store: RoarStore, environment: [String: String]) throws(RaySubmitError) -> Outcome {
        let project = traced.project
        let runID = StableID.random()
        let runDirectory = project.spoolRoot + "/" + runID
        let keyPair = RunKeyPair.generate()

        var submit = command
        let submissionID = submit.submissionID ?? "raysubmit_" + Self.randomSuffix()
        if submit.submissionID == nil {
            submit.settings.append(.init(.submissionID, submissionID))
        }
        let cwd = Project.currentDirectory()
        let filter = traced.pathFilter(environment: environment)
        let bundle = traced.runtime.pythonDirectory + "/roar_runtime"
        var streamNotes: [String] = []
        let stream = openStream(runID: runID, keyPair: keyPair, notes: &streamNotes)
        let rewritten: RaySubmitRewrite.Result
        let rewriteNotes: [String]
        do {
            (rewritten, rewriteNotes) = try rewriteForCluster(
                submit, runID: runID, keyPair: keyPair, filter: filter, bundle: bundle, currentDirectory: cwd,
                streamVariables: stream?.variables ?? [:])
        } catch {
            // No job will stream to it.
            if let stream { try? stream.service.closeSession(stream.session.sessionID) }
            throw error
        }
        var notes = rewriteNotes + streamNotes

        // Only now, with a command Ray will take: the run's folder and its private key.
        do throws(CaptureError) {
            try TracedRun.makeDirectory(project.spoolRoot)
            try TracedRun.makeDirectory(runDirectory)
        } catch {
            throw RaySubmitError(error)
        }
        do {
            try keyPair.save(to: runDirectory + "/" + SubmitRecord.keyFileName)
        } catch {
            FileSystem.removeTree(runDirectory)
            throw RaySubmitError(
                .spoolUnavailable, "cannot store the run key in \(runDirectory): \(error.description)",
                underlyingError: error)
        }

        let record = SubmitRecord(
            runID: runID, submissionID: submissionID,
            address: submit.value(of: .address) ?? environment["RAY_ADDRESS"], headers: submit.value(of: .headers),
            verify: submit.value(of: .verify), python: Self.hostPython(for: submit, environment: environment),
            noWait: submit.isNoWait, submittedAt: TracedRun.now(), session: stream?.session)
        try record.write(to: runDirectory)

        var root = Job(
            uid: runID, role: .run, command: SecretRedactor.redact(argv: traced.arguments), cwd: cwd,
            git: GitInspector.state(of: project.directory), startedAt: record.submittedAt, status: .running,
            hostname: TracedRun.hostname())
        var manifest = RunManifest(runID: runID, roarPID: getpid(), root: root)
        do throws(CaptureError) {
            try manifest.write(to: runDirectory)
        } catch {
            throw RaySubmitError(error)
        }

        // The download helper starts now: its Python and Ray import while the job runs.
        var drain = ClusterDrain(
            runDirectory: runDirectory, record: record, keyPair: keyPair, runtime: traced.runtime, filter: filter,
            timeoutSeconds: ClusterDrain.timeout(environment: environment))
        drain.sessionService = stream.map { .success($0.service) }
        let helper = submit.isNoWait ? nil : try? drain.startFetching()
        // While the job runs, what the cluster streams comes home (and `roar status` shows it).
        let follower = submit.isNoWait ? nil : drain.sessionPuller().map(SessionFollower.init)
        let termination: Termination
        do {
            termination = try CommandRunner.run(rewritten.arguments, environment: environment)
        } catch {
            follower?.stop()
            helper?.cancel()
            FileSystem.removeTree(runDirectory)
            throw RaySubmitError(error)
        }
        follower?.stop()
        var result = TracedRun.Result(
            termination: termination, root: root, outcome: nil, mergeError: nil, spoolDirectory: runDirectory)

        if submit.isNoWait, termination != .exited(0) {
            // The submit itself failed: no job ran, nothing will come from the cluster.
            helper?.cancel()
            return recordSubmitOnly(
                root: root, termination: termination, result: result, store: store,
                runDirectory: runDirectory, submissionID: submissionID, notes: notes)
        }
        if submit.isNoWait, termination == .exited(0) {
            // Submitted, not finished: the root job stays `running` until `roar fetch`.
            manifest.root = root
            try? manifest.write(to: runDirectory)
            return Outcome(
                result: result, submissionID: submissionID,
                pendingReason: "submitted without waiting; run `roar fetch \(submissionID)` once the job has finished",
                notes: notes)
        }
        root.end(with: termination, at: TracedRun.now())
        manifest.root = root
        try? manifest.write(to: runDirectory)
        result.root = root

        switch drain.fetchAndRecord(root: root, store: store, keepsFiles: traced.settings.keepsSpool, helper: helper) {
        case .recorded(let outcome, let drainNotes):
            result.outcome = outcome
            notes += drainNotes
            return Outcome(result: result, submissionID: submissionID, pendingReason: nil, notes: notes)
        case .notDelivered(let reason) where termination != .exited(0):
            // A failed submit (or a job that failed before roar started on the cluster): the
            // command is the lineage there is.
            return recordSubmitOnly(
                root: root, termination: termination, result: result, store: store, runDirectory: runDirectory,
                submissionID: submissionID, notes: notes + ["no lineage came from the cluster: \(reason)"])
        case .notDelivered(let reason):
            return Outcome(
                result: result, submissionID: submissionID,
                pendingReason: "\(reason); the run is kept, `roar fetch \(submissionID)` tries again", notes: notes)
        case .failed(let error):
            result.mergeError = error
            return Outcome(result: result, submissionID: submissionID, pendingReason: nil, notes: notes)
        }
    }

    /// The run's session on the lineage server, when one is configured and can be made; else the
    /// run goes through the in-cluster collector, and `notes` say why.
    func openStream(runID: String, keyPair: RunKeyPair, notes: inout [String]) -> StreamingTarget.Opened? {
        guard let streaming else { return nil }
        switch streaming.open(runID: runID, publicKey: keyPair.publicKey) {
        case .success(let opened):
            return opened
        case .failure(let error):
            notes.append(
                "GLaaS at \(streaming.server): \(error.message); this run's lineage came through the in-cluster collector"
            )
            return nil
        }
    }

    /// The submit with roar added, and what the user should know about it. Throws the rewrite's
    /// refusal (``RaySubmitError/isRewriteRefusal``) when Ray would refuse roar's additions.
    func rewriteForCluster(
        _ submit: RaySubmitCommand, runID: String, keyPair: RunKeyPair, filter: PathFilter, bundle: String,
        currentDirectory cwd: String, streamVariables: [String: String] = [:]
    ) throws(RaySubmitError) -> (RaySubmitRewrite.Result, [String]) {
        var notes: [String] = []
        let rewritten: RaySubmitRewrite.Result
        do {
            // First pass: the runtime env as the user gave it, to learn which host folders go up.
            let probe = RaySubmitRewrite(bundleDirectory: bundle, environmentVariables: [:], currentDirectory: cwd)
            let userEnvironment = try probe.rewrite(submit).runtimeEnvironment
            let variables = jobVariables(
                runID: runID, keyPair: keyPair, filter: filter, runtimeEnvironment: userEnvironment, bundle: bundle,
                currentDirectory: cwd
            ).merging(streamVariables) { _, stream in stream }
            rewritten = try RaySubmitRewrite(
                bundleDirectory: bundle, environmentVariables: variables, workerLauncher: Self.workerLauncherSnippet,
                currentDirectory: cwd
            ).rewrite(submit)
        } catch {
            throw error.refusingTheJob()
        }
        notes += rewritten.notes
        if !rewritten.overriddenVariables.isEmpty {
            notes.append(
                "the job's env_vars set \(rewritten.overriddenVariables.joined(separator: ", ")); roar's own values are used for this run"
            )
        }

        return (rewritten, notes)
    }

    /// Records the submit command alone and drops the run's folder.
    func recordSubmitOnly(
        root: Job, termination: Termination, result: TracedRun.Result, store: RoarStore, runDirectory: String,
        submissionID: String, notes: [String]
    ) -> Outcome {
        var job = root
        job.end(with: termination, at: TracedRun.now())
        var recorded = result
        recorded.root = job
        do {
            recorded.outcome = try Reconstituter(store: store, filter: traced.pathFilter(environment: [:]))
                .reconstitute(
                    spools: [], problems: [], root: job, runID: job.uid, resolver: NodeDigestResolver())
            FileSystem.removeTree(runDirectory)
        } catch {
            recorded.mergeError = error
        }
        return Outcome(result: recorded, submissionID: submissionID, pendingReason: nil, notes: notes)
    }

    /// roar's variables for the job: what the cluster side needs to trace it and to send the
    /// lineage home (`python/roar_runtime/cluster.py`).
    func jobVariables(
        runID: String, keyPair: RunKeyPair, filter: PathFilter, runtimeEnvironment: [String: RuntimeEnvironmentValue],
        bundle: String, currentDirectory: String
    ) -> [String: String] {
        let settings = traced.settings
        var variables: [String: String] = [
            "ROAR_MODE": "cluster",
            "ROAR_RUN_ID": runID,
            RunPublicKey.environmentVariable: keyPair.publicKey.base64,
            "ROAR_SPOOL": "\(Self.nodeRunRoot)/\(runID)/spool",
            "ROAR_PROJECT_DIR": traced.project.directory,
            // Workers start as Ray's own processes; the driver sets its own tag.
            "ROAR_TAG": "ray-system",
            // On the nodes nothing under /tmp may be dropped early: Ray unpacks the job there.
            "ROAR_IGNORE": (PathFilter.systemPrefixes.map { String($0.dropLast()) } + [Self.nodeRunRoot]).joined(
                separator: ":"),
            "ROAR_HOST_IGNORE": filter.ignoreEnvironmentValue,
            "ROAR_HOST_INCLUDE": filter.includeEnvironmentValue,
            "ROAR_FLUSH_MS": String(settings.flushMilliseconds),
            "ROAR_RAY_ENABLED": settings.isRayEnabled ? "1" : "0",
            "ROAR_RAY_ACTOR_ATTRIBUTION": settings.actorAttribution,
        ]
        if case .string(let directory)? = runtimeEnvironment["working_dir"], !directory.contains("://") {
            variables["ROAR_HOST_WORKING_DIR"] = Self.absolute(directory, from: currentDirectory)
        }
        let modules: [String?] = (runtimeEnvironment["py_modules"]?.arrayValue ?? []).map { entry in
            guard case .string(let path) = entry, !path.contains("://"), path != bundle else { return nil }
            let absolute = Self.absolute(path, from: currentDirectory)
            var info = stat()
            return stat(absolute, &info) == 0 && (info.st_mode & S_IFMT) == S_IFDIR ? absolute : nil
        }
        if !modules.isEmpty, let json = try? JSONEncoder().encode(modules + [nil]),
            let text = String(data: json, encoding: .utf8)
        {
            variables["ROAR_HOST_PY_MODULES"] = text
        }
        return variables
    }

    static func absolute(_ path: String, from directory: String) -> String {
        let joined = path.hasPrefix("/") ? path : directory + "/" + path
        guard let resolved = realpath(joined, nil) else { return joined }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    /// The Python of the user's Ray CLI: `python -m ray.scripts.scripts` names it; a `ray`
    /// script names it in its `#!` line. `ROAR_HOST_PYTHON` overrides; `python3` is the last resort.
    static func hostPython(for command: RaySubmitCommand, environment: [String: String]) -> String {
        if let override = environment["ROAR_HOST_PYTHON"], !override.isEmpty { return override }
        if command.program.count > 1, let python = command.program.first { return python }
        if let launcher = command.program.first,
            let script = ExecutableInspector.resolve(launcher, path: environment["PATH"]),
            let handle = FileHandle(forReadingAtPath: script)
        {
            defer { try? handle.close() }
            let head = (try? handle.read(upToCount: 512)) ?? Data()
            if let line = String(data: head, encoding: .utf8)?.split(separator: "\n").first, line.hasPrefix("#!") {
                let words = line.dropFirst(2).split(separator: " ").map(String.init)
                if let first = words.first {
                    // `#!/usr/bin/env python3` names the interpreter after env.
                    if first.hasSuffix("/env"), words.count > 1 { return words[1] }
                    return first
                }
            }
        }
        return "python3"
    }

    static func randomSuffix() -> String {
        let alphabet = Array("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
        var generator = SystemRandomNumberGenerator()
        return String((0..<16).map { _ in alphabet[Int(generator.next() % UInt64(alphabet.count))] })
    }
}
