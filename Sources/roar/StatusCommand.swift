import ArgumentParser
import RoarCore
import RoarStore

#if canImport(Glibc)
import Glibc
#endif

struct Status: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "What the project has recorded, and anything the tracer could not see.")

    func run() throws {
        let context = try ProjectContext.open()
        let terminal = Terminal.standardOutput
        let jobs = try context.store.allJobs()
        let runs = jobs.filter { $0.job.role == .run }
        let tasks = jobs.filter { $0.job.role != .run }
        let artifacts = Set(jobs.flatMap { ($0.inputs + $0.outputs).compactMap { $0.primaryHash?.digest } })

        print(terminal.bold("Project ") + context.project.directory)
        print("Store    " + context.project.databasePath)
        print("Runs     \(runs.count)" + (tasks.isEmpty ? "" : "  (+\(tasks.count) Ray task/actor jobs)"))
        print("Steps    \(jobs.compactMap(\.job.step).max() ?? 0)")
        print("Files    \(artifacts.count) distinct contents")
        var byStatus: [String: Int] = [:]
        for job in jobs { byStatus[job.job.status.rawValue, default: 0] += 1 }
        let statusLine = Job.Status.allCases.compactMap { status in
            byStatus[status.rawValue].map { terminal.status(status.rawValue) + " \($0)" }
        }.joined(separator: ", ")
        if !statusLine.isEmpty { print("Status   " + statusLine) }
        if let last = runs.last {
            print("Last run @\(last.job.step ?? 0): \(last.job.command) (\(terminal.status(last.job.status.rawValue)))")
        }

        var losses: [String: Int] = [:]
        for job in jobs { for (kind, count) in job.job.coverage { losses[kind, default: 0] += count } }
        if !losses.isEmpty {
            print(terminal.yellow("Coverage: some I/O could not be recorded"))
            for (kind, count) in losses.sorted(by: { $0.key < $1.key }) { print("  \(kind): \(count)") }
        }
        let pending = pendingSpools(in: context.project.spoolRoot)
        if !pending.isEmpty {
            print(terminal.yellow("\(pending.count) trace(s) not yet recorded in \(context.project.spoolRoot)") + " (a run still going, or roar was interrupted: `roar recover` records those)")
        }
    }

    func pendingSpools(in directory: String) -> [String] {
        guard let handle = opendir(directory) else { return [] }
        defer { closedir(handle) }
        var names: [String] = []
        while let entry = readdir(handle) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(cString: $0.bindMemory(to: CChar.self).baseAddress!) }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
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
        for job in jobs where job.job.role != .run { childCount[rootUID(of: job.job, in: jobs), default: 0] += 1 }
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

    func rootUID(of job: Job, in jobs: [RecordedJob]) -> String {
        var current = job
        var seen: Set<String> = []
        while let parent = current.parentUID, seen.insert(parent).inserted,
            let next = jobs.first(where: { $0.job.uid == parent })?.job
        {
            current = next
        }
        return current.uid
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
