import ArgumentParser
import RoarCapture
import RoarConfig
import RoarCore
import RoarRaySubmit
import RoarReconstitute
import RoarStore

#if canImport(Glibc)
    import Glibc
#endif

struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run a command and record what it (and every Ray task it starts) read and wrote.",
        discussion: """
            roar's exit status is the command's. The run is recorded also when the command fails \
            or is killed; Ctrl-C goes to the command. Examples:

              roar run python train.py --epochs 3
              roar run -- make -j2
              roar run python pipeline.py          # local Ray: one job per task

            Without a project above the current folder, roar creates one here first.
            """
    )

    @Flag(name: .customLong("keep-spool"), help: "Keep the raw trace in .roar/spool/ after recording (debugging).")
    var keepsSpool = false

    @Flag(name: .shortAndLong, help: "Say less: no summary after the command.")
    var quiet = false

    @Argument(parsing: .captureForPassthrough, help: "The command and its arguments.")
    var command: [String] = []

    func run() throws {
        var arguments = command
        // Everything after `run` belongs to the command, except a lone request for roar's help.
        if arguments == ["--help"] || arguments == ["-h"] { throw CleanExit.helpRequest(self) }
        if arguments.first == "--" { arguments.removeFirst() }
        guard !arguments.isEmpty else {
            throw ValidationError("give the command to run, e.g. `roar run python train.py`")
        }

        let cwd = Project.currentDirectory()
        let environment = Environment.current
        // When the project's state cannot be written (a full disk, .roar/ not a folder, a store from a newer
        // roar), the command still runs, as without roar, and roar says why nothing is recorded.
        let project: Project
        let store: RoarStore
        do {
            if let found = Project.find(from: cwd) {
                project = found
            } else {
                project = Project(directory: cwd)
                _ = try ProjectSetup.create(project)
                printError("roar: created a project in \(cwd) (.roar/, roar.toml)")
            }
            store = try RoarStore(path: project.databasePath)
        } catch {
            printError("roar: cannot record this run: \(error)")
            printError("roar: running the command untraced: nothing of this run is recorded")
            try runUntraced(arguments, environment: environment)
            return
        }
        let context = ProjectContext(project: project, store: store)
        let config = try context.config()
        let runtime = try RuntimeFiles.locateForCLI(environment: environment)
        var settings = TracedRun.Settings(config: config, environment: environment)
        settings.keepsSpool = settings.keepsSpool || keepsSpool

        if settings.isRayEnabled {
            switch RaySubmitCommand.recognition(arguments) {
            case .recognised(let submit):
                let streaming = HTTPFragmentSessions.target(
                    config: config, projectDirectory: project.directory, environment: environment)
                if try runSubmit(
                    submit, arguments: arguments, project: project, context: context, settings: settings,
                    runtime: runtime, environment: environment, streaming: streaming)
                {
                    return
                }
            case .unsupported(let reason):
                printError(
                    "roar: warning: \(reason); the job runs without roar on the cluster (only this command is recorded)"
                )
            case .notASubmit:
                break
            }
        }

        let result: TracedRun.Result
        do {
            result = try TracedRun(project: project, arguments: arguments, settings: settings, runtime: runtime)
                .execute(store: context.store, environment: environment)
        } catch  where error.code == .spoolUnavailable {
            // Recording must never stop the command (a full disk, a read-only .roar/): it runs as without roar.
            printError("roar: cannot record this run: \(error.description)")
            printError("roar: running the command untraced: nothing of this run is recorded")
            try runUntraced(arguments, environment: environment)
            return
        } catch {
            printError("roar: \(error.description)")
            throw ExitCode(Self.launchExitCode(error))
        }
        report(result)
        let code = result.termination.shellExitCode
        if code != 0 { throw ExitCode(code) }
    }

    /// As a shell does: 127 when the command does not exist, 126 when it cannot run.
    static func launchExitCode(_ error: CaptureError?) -> Int32 {
        error?.code == .launchFailed ? (error?.errorNumber == ENOENT ? 127 : 126) : 1
    }

    /// Runs the command as it is, without the tracer, and exits with its status.
    func runUntraced(_ arguments: [String], environment: [String: String]) throws {
        let termination: Termination
        do {
            termination = try CommandRunner.run(arguments, environment: environment)
        } catch {
            printError("roar: \(error.description)")
            throw ExitCode(Self.launchExitCode(error))
        }
        let code = termination.shellExitCode
        if code != 0 { throw ExitCode(code) }
    }

    /// `ray job submit`: roar rides along to the cluster and brings the lineage home. False
    /// when roar cannot add itself (Ray would refuse the merged runtime env): the caller then
    /// runs the command as given, which records the submit alone.
    func runSubmit(
        _ submit: RaySubmitCommand, arguments: [String], project: Project, context: ProjectContext,
        settings: TracedRun.Settings, runtime: RuntimeFiles, environment: [String: String],
        streaming: StreamingTarget?
    ) throws -> Bool {
        let traced = TracedRun(project: project, arguments: arguments, settings: settings, runtime: runtime)
        let outcome: ClusterSubmission.Outcome
        do {
            outcome = try ClusterSubmission(traced: traced, command: submit, streaming: streaming)
                .execute(store: context.store, environment: environment)
        } catch  where error.isRewriteRefusal {
            printError(
                "roar: warning: \(error.message); the job runs without roar on the cluster (only this command is recorded)"
            )
            return false
        } catch {
            printError("roar: \(error.description)")
            throw ExitCode(Self.launchExitCode(error.underlyingError as? CaptureError))
        }
        for note in outcome.notes { printError("roar: note: \(note)") }
        if let pending = outcome.pendingReason {
            printError("roar: \(pending)")
        } else {
            report(outcome.result)
        }
        let code = outcome.result.termination.shellExitCode
        if code != 0 { throw ExitCode(code) }
        return true
    }

    func report(_ result: TracedRun.Result) {
        if let error = result.mergeError {
            printError("roar: could not record this run: \(error.description)")
            printError(
                "roar: the trace is kept in \(result.spoolDirectory): `roar recover` records it once that is fixed")
            return
        }
        guard let outcome = result.outcome else { return }
        printWarnings(of: outcome)
        guard !quiet, let root = outcome.jobs.first else { return }
        let tasks = outcome.jobs.count - 1
        let taskNote = tasks > 0 ? ", \(tasks) Ray task\(tasks == 1 ? "" : "s")" : ""
        let inputs = Set(outcome.jobs.flatMap { $0.inputs.map(\.path) }).count
        let outputs = Set(outcome.jobs.flatMap { $0.outputs.map(\.path) }).count
        printError(
            "roar: recorded @\(root.job.step ?? 0) (\(root.job.status.rawValue)\(taskNote)): "
                + "\(inputs) input\(inputs == 1 ? "" : "s"), \(outputs) output\(outputs == 1 ? "" : "s")")
    }
}

/// What went wrong while recording a run (damaged spool records, lost coverage), for `roar run` and
/// `roar recover` alike.
func printWarnings(of outcome: Reconstituter.Outcome) {
    for problem in outcome.problems.prefix(5) { printError("roar: warning: \(problem)") }
    if outcome.problems.count > 5 {
        printError("roar: warning: … and \(outcome.problems.count - 5) more damaged spool records")
    }
    for warning in outcome.warnings { printError("roar: warning: \(warning)") }
}

struct Recover: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Record runs whose trace was left in .roar/spool/ (roar was killed, or recording failed).",
        discussion: """
            `roar run` records a run right after its command ends. If roar itself was killed, or \
            the store could not be written, the raw trace stays in .roar/spool/ and `roar status` \
            says so. This records those runs now; runs still going are left alone.
            """)

    func run() throws {
        let context = try ProjectContext.open()
        let environment = Environment.current
        let settings = TracedRun.Settings(config: try context.config(), environment: environment)
        let runtime = try RuntimeFiles.locateForCLI(environment: environment)
        let tracedRun = TracedRun(project: context.project, arguments: [], settings: settings, runtime: runtime)
        let recovered = tracedRun.recoverAbandonedRuns(
            store: context.store, environment: environment, isRecordedElsewhere: ClusterDrain.isPendingSubmit)
        if recovered.isEmpty { print("Nothing to recover.") }
        var failed = false
        for (runID, outcome) in recovered {
            switch outcome {
            case .success(let outcome):
                printWarnings(of: outcome)
                let step = outcome.jobs.first?.job.step ?? 0
                print(
                    "Recorded run \(runID) as @\(step) (\(outcome.jobs.count) job\(outcome.jobs.count == 1 ? "" : "s"))"
                )
            case .failure(let error):
                failed = true
                printError("roar: could not record run \(runID): \(error.description)")
            }
        }
        if failed { throw ExitCode(1) }
    }
}
