import ArgumentParser
import RoarCapture
import RoarCore
import RoarRaySubmit
import RoarReconstitute
import RoarStore

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
        let settings = TracedRun.Settings(config: try context.config(), environment: environment)
        let runtime = try RuntimeFiles.locateForCLI(environment: environment)
        let traced = TracedRun(project: context.project, arguments: [], settings: settings, runtime: runtime)
        let submits = PendingSubmits(
            project: context.project, runtime: runtime, filter: traced.pathFilter(environment: environment),
            timeoutSeconds: ClusterDrain.timeout(environment: environment), keepsFiles: settings.keepsSpool,
            connect: HTTPFragmentSessions.connector(environment: environment))
        for id in submits.unknown(submissionIDs) {
            printError("roar: no pending submit with id \(id) (see `roar status`)")
        }
        let reports = submits.fetch(submissionIDs, into: context.store)
        if reports.isEmpty {
            print("Nothing to fetch.")
            return
        }
        var failed = false
        for (id, report) in reports {
            switch report {
            case .stillRunning(let status):
                print("\(id): still \(status.lowercased()); fetch again once it has finished")
            case .recorded(let status, let outcome, let notes):
                for note in notes { printError("roar: note: \(id): \(note)") }
                let step = outcome.jobs.first?.job.step ?? 0
                let tasks = outcome.jobs.count - 1
                print(
                    "\(id): \(status.lowercased()); recorded as @\(step) with \(tasks) Ray task\(tasks == 1 ? "" : "s")"
                )
            case .notDelivered(let reason):
                printError("roar: \(id): \(reason); still pending")
                failed = true
            case .failed(let error):
                printError("roar: \(id): \(error.message)")
                failed = true
            case .notRecorded(let error):
                printError("roar: \(id): could not record: \(error.description)")
                failed = true
            }
        }
        if failed { throw ExitCode(1) }
    }
}
