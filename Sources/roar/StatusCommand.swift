import ArgumentParser
import Foundation
import RoarCapture
import RoarCore
import RoarExport
import RoarRaySubmit
import RoarStore
import RoarTransport

#if canImport(Glibc)
    import Glibc
#endif

struct Status: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "What the project has recorded, and anything the tracer could not see.")

    func run() throws {
        let context = try ProjectContext.open()
        let terminal = Terminal.standardOutput
        let summary = try context.store.summary()
        let runs = summary.jobsByRole[.run] ?? 0
        let tasks = summary.jobCount - runs

        print(terminal.bold("Project ") + context.project.directory)
        print("Store    " + context.project.databasePath)
        print("Runs     \(runs)" + (tasks == 0 ? "" : "  (+\(tasks) Ray task/actor jobs)"))
        print("Steps    \(summary.lastStep ?? 0)")
        print("Files    \(summary.artifactCount) distinct contents")
        let statusLine = Job.Status.allCases.compactMap { status in
            summary.jobsByStatus[status].map { terminal.status(status.rawValue) + " \($0)" }
        }.joined(separator: ", ")
        if !statusLine.isEmpty { print("Status   " + statusLine) }
        if let last = try context.store.allJobs().last(where: { $0.job.role == .run }) {
            print("Last run @\(last.job.step ?? 0): \(last.job.command) (\(terminal.status(last.job.status.rawValue)))")
        }
        if summary.unhashedReadCount > 0 {
            print(
                terminal.yellow("\(summary.unhashedReadCount) read(s) changed before roar could hash them")
                    + " (matched by file version only)")
        }
        if !summary.coverage.isEmpty {
            print(terminal.yellow("Coverage: some I/O could not be recorded"))
            for (kind, count) in summary.coverage.sorted(by: { $0.key < $1.key }) { print("  \(kind): \(count)") }
        }
        let submits = ClusterDrain.pendingRuns(of: context.project)
        for submit in submits {
            print(
                terminal.yellow("Ray job \(submit.record.submissionID) submitted, lineage not fetched yet")
                    + " (`roar fetch \(submit.record.submissionID)` once it has finished)")
            if let session = submit.record.session {
                print("  streaming through GLaaS at \(session.server): " + streamProgress(of: submit, session: session))
            }
        }
        let submitDirectories = Set(submits.map { ($0.directory as NSString).lastPathComponent })
        let pending = pendingSpools(in: context.project.spoolRoot).filter { !submitDirectories.contains($0) }
        if !pending.isEmpty {
            print(
                terminal.yellow("\(pending.count) trace(s) not yet recorded in \(context.project.spoolRoot)")
                    + " (a run still going, or roar was interrupted: `roar recover` records those)")
        }
    }

    /// What has come of a streamed run so far: pulled now when the server answers (a `roar run`
    /// pulling at the same moment is left to it), else what the last pull saw.
    func streamProgress(of submit: ClusterDrain.PendingRun, session: StreamingSession) -> String {
        let last = StreamProgress.read(from: submit.directory)
        var unreachable = ""
        if case .success(let service) = HTTPFragmentSessions.connector(environment: Environment.current, attempts: 1)(
            session.server),
            let keyPair = try? RunKeyPair.load(from: submit.directory + "/" + SubmitRecord.keyFileName)
        {
            let puller = SessionPuller(
                runDirectory: submit.directory, session: session, keyPair: keyPair, runID: submit.record.runID,
                service: service)
            do {
                return try puller.pull(waiting: false).summary
            } catch {
                unreachable = " (not reachable now: \(error.message))"
            }
        }
        return (last?.summary ?? "nothing pulled yet") + unreachable
    }

    func pendingSpools(in directory: String) -> [String] {
        FileSystem.names(in: directory)
    }
}

struct Log: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "The recorded steps, oldest first.",
        discussion: "Each `roar run` is a step; its Ray tasks follow it. Use `roar show @N` for one step.")

    @Flag(name: .long, help: "List every Ray task and actor job too, not just the commands.")
    var all = false

    @Option(name: .shortAndLong, help: "Show only the last N commands.")
    var limit: Int?

    func run() throws {
        let context = try ProjectContext.open()
        let terminal = Terminal.standardOutput
        let jobs = try context.store.allJobs()
        var childCount: [String: Int] = [:]
        let graph = LineageGraph(jobs: jobs, edges: [])
        for job in jobs where job.job.role != .run { childCount[graph.root(of: job.job).uid, default: 0] += 1 }
        var runs = jobs.filter { all || $0.job.role == .run }
        if let limit { runs = Array(runs.suffix(limit)) }
        var rows: [[String]] = []
        for recorded in runs {
            let job = recorded.job
            let tasks = childCount[job.uid].map { " " + terminal.dim("(+\($0) tasks)") } ?? ""
            let indent = job.role == .run ? "" : "  "
            rows.append([
                terminal.cyan("@\(job.step ?? 0)"), String(job.uid.prefix(8)), terminal.status(job.status.rawValue),
                formatDuration(job.durationSeconds), Timestamp.format(job.startedAt),
                indent + LineageGraph.title(of: job) + tasks,
            ])
        }
        if rows.isEmpty { print("Nothing recorded yet: try `roar run <command>`.") }
        for line in Terminal.table(rows) { print(line) }
    }
}

/// Local-time timestamps for listings.
enum Timestamp {
    static func format(_ seconds: Double) -> String {
        var time = time_t(seconds)
        var parts = tm()
        localtime_r(&time, &parts)
        var buffer = [CChar](repeating: 0, count: 32)
        strftime(&buffer, buffer.count, "%Y-%m-%d %H:%M:%S", &parts)
        return String(cString: buffer)
    }
}
