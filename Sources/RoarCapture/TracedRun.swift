public import RoarCore
public import RoarReconstitute
public import RoarStore

#if canImport(Glibc)
    import Glibc
#endif

/// `roar run`: launches a command under the tracer, then reconstitutes what it did into the
/// project's store. The command's exit status is the result; capture problems never change it.
public struct TracedRun {
    /// How the run is traced (from roar.toml and the environment).
    public struct Settings: Sendable {
        public var isRayEnabled = true
        public var actorAttribution = "per_call"
        public var flushMilliseconds = 1000
        public var ignoreTemporary = true
        public var extraIgnored: [String] = []
        public var extraIncluded: [String] = []
        /// Keep the raw spool after merging (for debugging the tracer).
        public var keepsSpool = false

        public init() {}
    }

    /// What happened: how the command ended and what was recorded.
    public struct Result: Sendable {
        public var termination: Termination
        public var root: Job
        public var outcome: Reconstituter.Outcome?
        /// Set when the jobs could not be merged; the spool is kept at `spoolDirectory`.
        public var mergeError: StoreError?
        public var spoolDirectory: String

        public init(
            termination: Termination, root: Job, outcome: Reconstituter.Outcome?, mergeError: StoreError?,
            spoolDirectory: String
        ) {
            self.termination = termination
            self.root = root
            self.outcome = outcome
            self.mergeError = mergeError
            self.spoolDirectory = spoolDirectory
        }
    }

    public var project: Project
    public var arguments: [String]
    public var settings: Settings
    public var runtime: RuntimeFiles

    public init(project: Project, arguments: [String], settings: Settings, runtime: RuntimeFiles) {
        self.project = project
        self.arguments = arguments
        self.settings = settings
        self.runtime = runtime
    }

    public func execute(store: RoarStore, environment: [String: String]) throws(CaptureError) -> Result {
        let runID = StableID.random()
        let spoolDirectory = project.spoolRoot + "/" + runID
        try Self.makeDirectory(project.spoolRoot)
        try Self.makeDirectory(spoolDirectory)

        let filter = pathFilter(environment: environment)
        let trace = TraceEnvironment(
            runtime: runtime, projectDirectory: project.directory, spoolDirectory: spoolDirectory, runID: runID,
            filter: filter, isRayEnabled: settings.isRayEnabled, actorAttribution: settings.actorAttribution,
            flushMilliseconds: settings.flushMilliseconds)
        let cwd = Project.currentDirectory()
        var root = Job(
            uid: runID, role: .run, command: SecretRedactor.redact(argv: arguments), cwd: cwd,
            git: GitInspector.state(of: project.directory), startedAt: Self.now(), status: .running,
            hostname: Self.hostname())

        if let program = ExecutableInspector.resolve(arguments[0], path: environment["PATH"]),
            ExecutableInspector.isStaticELF(program)
        {
            root.coverage["static-exec", default: 0] += 1
        }
        var manifest = RunManifest(runID: runID, roarPID: getpid(), root: root)
        do {
            try manifest.write(to: spoolDirectory)
        } catch {
            FileSystem.removeTree(spoolDirectory)  // nothing ran: nothing to recover later
            throw error
        }
        let termination: Termination
        do {
            termination = try CommandRunner.run(arguments, environment: trace.applied(to: environment))
        } catch {
            // Nothing ran, so there is nothing to record (or to recover later).
            FileSystem.removeTree(spoolDirectory)
            throw error
        }

        root.end(with: termination, at: Self.now())
        manifest.root = root
        try? manifest.write(to: spoolDirectory)
        var result = Result(
            termination: termination, root: root, outcome: nil, mergeError: nil, spoolDirectory: spoolDirectory)
        do {
            result.outcome = try Self.record(
                spoolDirectory: spoolDirectory, root: root, runID: runID, filter: filter, store: store,
                keepsSpool: settings.keepsSpool)
        } catch {
            result.mergeError = error
        }
        return result
    }

    /// Less free space than this where the spool is means it may have filled up during the run (the
    /// preload keeps 16 KiB in reserve per process; a spool file grows 256 KiB at a time).
    static let minimumFreeSpoolBytes: UInt64 = 64 * 1024

    /// Merges one run's spool into the store, then removes the spool (unless kept).
    static func record(
        spoolDirectory: String, root: Job, runID: String, filter: PathFilter, store: RoarStore, keepsSpool: Bool
    ) throws(StoreError) -> Reconstituter.Outcome {
        var outcome = try Reconstituter(store: store, filter: filter)
            .reconstitute(spoolDirectory: spoolDirectory, root: root, runID: runID)
        // The preload counts what a full file system refused (spool_full) while its reserve lasts; a file system
        // that was full before a process could reserve anything leaves no count at all: say so.
        if let free = FileSystem.availableBytes(at: spoolDirectory), free < minimumFreeSpoolBytes {
            outcome.warnings.append(
                "the file system of \(spoolDirectory) is full (\(free) bytes free): what the command did after "
                    + "it filled up may be missing from this run; free space there before the next run")
        }
        if !keepsSpool { FileSystem.removeTree(spoolDirectory) }
        return outcome
    }

    /// `roar recover`: records every run whose trace is still in `.roar/spool/` and whose roar
    /// process is gone (killed, or its merge failed). Runs still going are left alone, and so are
    /// the run folders `isRecordedElsewhere` claims (a host-submitted run's trace is on the
    /// cluster: `roar fetch` brings it home, see `ClusterDrain.isPendingSubmit` in RoarRaySubmit).
    public func recoverAbandonedRuns(
        store: RoarStore, environment: [String: String], isRecordedElsewhere: (_ runDirectory: String) -> Bool
    ) -> [(
        runID: String, outcome: Swift.Result<Reconstituter.Outcome, StoreError>
    )] {
        var recovered: [(String, Swift.Result<Reconstituter.Outcome, StoreError>)] = []
        for name in FileSystem.names(in: project.spoolRoot).sorted() {
            let directory = project.spoolRoot + "/" + name
            guard var manifest = RunManifest.read(from: directory), !manifest.isOwnerAlive else { continue }
            if isRecordedElsewhere(directory) { continue }
            if manifest.root.status == .running {
                manifest.root.status = .killed
                manifest.root.error = "roar was interrupted before the command ended"
            }
            do {
                let outcome = try Self.record(
                    spoolDirectory: directory, root: manifest.root, runID: manifest.runID,
                    filter: pathFilter(environment: environment), store: store, keepsSpool: settings.keepsSpool)
                recovered.append((manifest.runID, .success(outcome)))
            } catch {
                recovered.append((manifest.runID, .failure(error)))
            }
        }
        return recovered
    }

    public func pathFilter(environment: [String: String]) -> PathFilter {
        var ignored = settings.extraIgnored
        ignored += TraceEnvironment.interpreterPrefixes(path: environment["PATH"], projectDirectory: project.directory)
        ignored.append(runtime.directory)
        if let home = environment["HOME"], !home.isEmpty, home != "/" {
            for cache in [".cache", ".local/lib", ".pyenv", ".conda", ".ray", ".config", ".ipython", ".keras", ".nv"] {
                ignored.append(home + "/" + cache)
            }
        }
        if let virtualEnvironment = environment["VIRTUAL_ENV"] { ignored.append(virtualEnvironment) }
        return PathFilter(
            projectDirectory: project.directory, ignoreTemporary: settings.ignoreTemporary, extraIgnored: ignored,
            extraIncluded: settings.extraIncluded)
    }

    /// Creates one folder of the spool (mode 0700).
    public static func makeDirectory(_ path: String) throws(CaptureError) {
        do {
            try FileSystem.makeDirectory(path)
        } catch {
            throw CaptureError(
                .spoolUnavailable, "cannot create \(path): \(error.reason); check that .roar/ is writable",
                errorNumber: error.errorNumber, underlyingError: error)
        }
    }

    /// Seconds since the epoch, as jobs record their start and end.
    public static func now() -> Double {
        var time = timespec()
        clock_gettime(CLOCK_REALTIME, &time)
        return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
    }

    public static func hostname() -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        gethostname(&buffer, buffer.count - 1)
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

/// Quoting of argument lists the way a POSIX shell reads them back.
public enum ShellQuoting {
    public static func join(_ arguments: [String]) -> String {
        arguments.map(quote).joined(separator: " ")
    }

    public static func quote(_ argument: String) -> String {
        let safe = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./=:@%+,")
        if !argument.isEmpty && argument.allSatisfy({ safe.contains($0) }) { return argument }
        return "'" + argument.split(separator: "'", omittingEmptySubsequences: false).joined(separator: "'\\''") + "'"
    }
}

extension Job {
    /// How the command roar ran ended: duration, exit code, status (and the signal's name).
    public mutating func end(with termination: Termination, at time: Double) {
        durationSeconds = time - startedAt
        exitCode = Int(termination.shellExitCode)
        switch termination {
        case .exited(0): status = .ok
        case .exited: status = .failed
        case .signaled:
            status = .killed
            error = "killed by \(termination.signalName ?? "a signal")"
        }
    }
}
