import ArgumentParser
import RoarCapture
import RoarCore
import RoarReconstitute
import RoarStore
import RoarTransport

struct Fetch: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Record the lineage of Ray jobs submitted with `roar run ray job submit --no-wait`.",
        discussion: """
            A submit that did not wait (or whose lineage the cluster had not delivered when \
            `ray job submit` returned) stays pending in .roar/spool/. Once the job has finished, \
            this asks the cluster for the lineage its roar agents collected and records it. \
            Jobs still running are left pending. Examples:

              roar fetch                           # every pending submit
              roar fetch raysubmit_Xy12…           # one job, by its submission id
            """)

    @Argument(help: "Submission ids to fetch (default: every pending submit).")
    var submissionIDs: [String] = []

    func run() throws {
        let context = try ProjectContext.open()
        let environment = Environment.current
        let config = try context.config()
        let runtime = try RuntimeFiles.locateForCLI(environment: environment)
        let settings = TracedRun.Settings(config: config, environment: environment)
        let traced = TracedRun(project: context.project, arguments: [], settings: settings, runtime: runtime)
        var pending = ClusterDrain.pendingRuns(of: context.project)
        if !submissionIDs.isEmpty {
            for id in submissionIDs where !pending.contains(where: { $0.record.submissionID == id }) {
                printError("roar: no pending submit with id \(id) (see `roar status`)")
            }
            pending = pending.filter { submissionIDs.contains($0.record.submissionID) }
        }
        if pending.isEmpty {
            print("Nothing to fetch.")
            return
        }
        var failed = false
        for run in pending {
            let id = run.record.submissionID
            let keyPair: RunKeyPair
            do {
                keyPair = try RunKeyPair.load(from: run.directory + "/" + SubmitRecord.keyFileName)
            } catch {
                printError("roar: \(id): the run key is unusable (\(error.description)); its batches cannot be opened")
                failed = true
                continue
            }
            let drain = ClusterDrain(
                runDirectory: run.directory, record: run.record, keyPair: keyPair, runtime: runtime,
                filter: traced.pathFilter(environment: environment),
                timeoutSeconds: ClusterDrain.timeout(environment: environment))
            let state: ClusterDrain.JobState
            do {
                state = try drain.jobState()
            } catch {
                printError("roar: \(id): \(error.message)")
                failed = true
                continue
            }
            guard state.isTerminal else {
                print("\(id): still \(state.status.lowercased()); fetch again once it has finished")
                continue
            }
            let root = ClusterDrain.finishedRoot(run.manifest.root, state: state)
            switch drain.fetchAndRecord(root: root, store: context.store, keepsFiles: settings.keepsSpool) {
            case .recorded(let outcome, let notes):
                for note in notes { printError("roar: note: \(id): \(note)") }
                let step = outcome.jobs.first?.job.step ?? 0
                let tasks = outcome.jobs.count - 1
                print("\(id): \(state.status.lowercased()); recorded as @\(step) with \(tasks) Ray task\(tasks == 1 ? "" : "s")")
            case .notDelivered(let reason):
                printError("roar: \(id): \(reason); still pending")
                failed = true
            case .failed(let error):
                printError("roar: \(id): could not record: \(error.description)")
                failed = true
            }
        }
        if failed { throw ExitCode(1) }
    }
}
