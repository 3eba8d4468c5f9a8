import ArgumentParser
import RoarCore
import RoarExport
import RoarStore

#if canImport(Glibc)
    import Glibc
#endif

struct Show: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Details of a step, a job, a file or a content digest.",
        discussion: """
            TARGET is one of:
              @N              every job of step N (a command, or Ray tasks that ran in parallel)
              <uid prefix>    one job (uids are shown by `roar log` and `roar dag`)
              <digest prefix> the jobs that wrote or read content with that BLAKE3 digest
              <path>          the jobs that wrote or read that file
              <folder>        a dataset (composite): its parts with their digests and writers,
                              the tasks that wrote it and the jobs that read all of it
              s3://BUCKET/KEY the jobs that wrote, read or deleted that S3 object (or prefix)
            """)

    @Argument(help: "@N, a job uid or digest prefix, or a path.")
    var target: String

    func run() throws {
        let context = try ProjectContext.open()
        let found = try context.lookUp(target)
        let printer = JobPrinter(project: context.project, terminal: .standardOutput, graph: try context.store.graph())
        switch found {
        case .jobs(let jobs):
            for (index, job) in jobs.enumerated() {
                if index > 0 { print("") }
                printer.printDetails(of: job)
            }
        case .content(let description, let writers, let readers, let composite):
            print(Terminal.standardOutput.bold(description))
            if let composite { printer.printComposite(composite) }
            printer.printJobList("written by", writers)
            printer.printJobList("read by", readers)
        }
    }
}

extension ProjectContext {
    /// What the user meant by `@N`, a uid or digest prefix, or a path (``RoarStore/lookUp(_:currentDirectory:)``).
    func lookUp(_ target: String) throws -> LookedUpTarget {
        do {
            return try store.lookUp(target, currentDirectory: Project.currentDirectory())
        } catch  where error.code == .noMatch {
            if target.hasPrefix("@"), Int(target.dropFirst()) == nil { throw ValidationError(error.message) }
            throw Failure(error.message)
        }
    }
}

/// Prints jobs for people: paths relative to the project, digests shortened.
struct JobPrinter {
    var project: Project
    var terminal: Terminal
    var graph: LineageGraph

    func displayPath(_ path: String) -> String {
        LineageGraph.displayPath(path, projectDirectory: project.directory)
    }

    func heading(of job: Job) -> String {
        LineageGraph.heading(of: job, style: terminal.textStyle)
    }

    func printDetails(of recorded: RecordedJob) {
        let job = recorded.job
        print(heading(of: job))
        var rows: [[String]] = []
        if job.role == .run || job.command != job.ray?.function { rows.append(["command", job.command]) }
        if let ray = job.ray {
            var parts = ["task \(ray.taskID)", "attempt \(ray.attempt)"]
            if let actor = ray.actorID { parts.append("actor \(actor)") }
            if let node = ray.nodeID { parts.append("node \(node.prefix(12))") }
            if let worker = ray.workerID { parts.append("worker \(worker.prefix(12))") }
            if let jobID = ray.jobID { parts.append("ray job \(jobID)") }
            rows.append(["ray", parts.joined(separator: ", ")])
        }
        if let parent = job.parentUID {
            let title = graph.job(uid: parent).map { "@\($0.job.step ?? 0) " + LineageGraph.title(of: $0.job) } ?? "?"
            rows.append(["parent", "\(title) (\(parent))"])
        }
        rows.append(["started", Timestamp.format(job.startedAt) + "  took " + formatDuration(job.durationSeconds)])
        if let code = job.exitCode { rows.append(["exit code", String(code)]) }
        if let error = job.error { rows.append(["error", terminal.red(error)]) }
        if let cwd = job.cwd { rows.append(["cwd", cwd]) }
        if let git = job.git {
            let branch = git.branch.map { " on \($0)" } ?? ""
            rows.append(["git", String(git.commit.prefix(12)) + branch + (git.isDirty ? " (dirty)" : "")])
        }
        if let host = job.hostname { rows.append(["host", host]) }
        for (kind, count) in job.coverage.sorted(by: { $0.key < $1.key }) {
            rows.append(["not seen", terminal.yellow("\(count) \(kind)")])
        }
        for line in Terminal.table(rows.map { ["  " + $0[0], $0[1]] }) { print(line) }
        printRefs(
            "inputs", recorded.inputs,
            linkedBy: { ref in
                graph.edges.filter { $0.to == job.uid && $0.path == ref.path }.map(\.from)
            }, direction: "from")
        printRefs(
            "outputs", recorded.outputs,
            linkedBy: { ref in
                graph.edges.filter { $0.from == job.uid && $0.path == ref.path }.map(\.to)
            }, direction: "to")
        if !recorded.deletes.isEmpty {
            print("  deleted")
            for path in recorded.deletes { print("    " + displayPath(path)) }
        }
    }

    func printRefs(_ title: String, _ refs: [Ref], linkedBy: (Ref) -> [String], direction: String) {
        print("  \(title)" + (refs.isEmpty ? terminal.dim(" (none)") : ""))
        let rows = refs.map { ref -> [String] in
            let digest =
                ref.primaryHash.map { "\($0.algorithm):\($0.digest.prefix(12))" } ?? terminal.yellow("unhashed")
            let linked = linkedBy(ref).compactMap { graph.job(uid: $0) }.map { "@\($0.job.step ?? 0)" }
            let note = linked.isEmpty ? "" : terminal.dim("\(direction) " + linked.joined(separator: ","))
            let location = ref.isClusterOnly ? terminal.dim(" (on the cluster only)") : ""
            let name = LineageGraph.displayName(of: ref, projectDirectory: project.directory)
            return ["    " + name + location, terminal.dim(digest), formatSize(ref.size), note]
        }
        for line in Terminal.table(rows) { print(line) }
    }

    /// A dataset: its digest, then each part with its digest, size and the step that wrote it.
    func printComposite(_ composite: Ref) {
        let parts = composite.components ?? []
        let digest = composite.primaryHash.map { "\($0.algorithm):\($0.digest.prefix(16))" } ?? "unhashed"
        print(
            "  dataset of \(parts.count) part\(parts.count == 1 ? "" : "s"), \(formatSize(composite.size)), " + digest)
        let rows = parts.map { part -> [String] in
            let path = composite.path + "/" + part.name
            let writers = graph.jobs.filter { recorded in
                recorded.outputs.contains { $0.path == path && part.matches($0) }
            }
            let steps = writers.map { "@\($0.job.step ?? 0)" }.joined(separator: ",")
            return [
                "    " + part.name, terminal.dim("\(part.algorithm):\(part.digest.prefix(12))"), formatSize(part.size),
                steps.isEmpty ? "" : terminal.dim("from " + steps),
            ]
        }
        for line in Terminal.table(rows) { print(line) }
    }

    func printJobList(_ title: String, _ jobs: [RecordedJob]) {
        print("  \(title)" + (jobs.isEmpty ? terminal.dim(" (nothing recorded)") : ""))
        for job in jobs { print("    " + heading(of: job.job)) }
    }
}
