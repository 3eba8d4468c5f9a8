import ArgumentParser
import Foundation
import RoarCore
import RoarExport
import RoarServerClient
import RoarStore

extension Lineage {
    /// `roar lineage TARGET --server URL` (or `--remote`): the same listing as the local one, from the server's
    /// `GET …/lineage` — which also holds other projects' registrations and foreign OpenLineage runs.
    func runOnServer() throws {
        let context = try? ProjectContext.open()
        var options = ServerOptions()
        options.server = server
        let client = try options.client(context: context)
        let name = project ?? context.map { ServerProjectName.derived(fromDirectory: $0.project.directory) }
        guard let name else { throw ValidationError("outside a project, give --project NAME") }
        let start = Self.serverStart(target)
        let isUpstream = direction == .upstream
        let answer: LineageServerClient.LineageAnswer
        do {
            answer = try runBlocking { try await client.lineage(project: name, from: start, isUpstream: isUpstream) }
        } catch {
            throw Failure("\(error)")
        }
        let terminal = Terminal.standardOutput
        let style = terminal.textStyle
        let subject: String =
            switch start {
            case .path(let path): path
            case .digest(let digest): "content \(digest)…"
            }
        print(terminal.bold(subject) + terminal.dim("  (\(name) at \(client.server))"))
        let found = answer.jobs.sorted {
            ($0.depth, $0.job.startedAt, $0.job.uid) < ($1.depth, $1.job.startedAt, $1.job.uid)
        }
        func list(_ title: String, _ jobs: [LineageServerClient.JobSummary]) {
            print("  \(title)" + (jobs.isEmpty ? terminal.dim(" (nothing recorded)") : ""))
            for job in jobs { print("    " + Self.heading(of: job, style: style)) }
        }
        if isUpstream {
            guard !answer.start.isEmpty else {
                print("  no registered job wrote it: it is a source")
                return
            }
            list("written by", answer.start)
            list("upstream", found.map(\.job))
        } else {
            list("read by", answer.start)
            list("downstream", found.map(\.job))
        }
        if answer.truncated { print(terminal.dim("  (stopped at depth 100: there is more)")) }
    }

    /// A path (made absolute, spelt as roar stores it) or a digest: at least 8 hex digits, optionally after
    /// `algorithm:`, that is not a file here.
    static func serverStart(_ target: String) -> LineageServerClient.LineageStart {
        let hex = target.split(separator: ":", maxSplits: 1).last.map(String.init) ?? target
        if hex.count >= 8, hex.allSatisfy(\.isHexDigit), !FileManager.default.fileExists(atPath: target) {
            return .digest(target.lowercased())
        }
        let spelt = storedSpelling(of: target)
        return .path(RoarStore.absolutePath(spelt, currentDirectory: Project.currentDirectory()))
    }

    /// The argument as roar's store spells paths (`SpoolEscaping.string(fromPathBytes:)`): a name with bytes
    /// that are not UTF-8 reaches Swift repaired (U+FFFD), so the raw bytes are taken from `argv`.
    static func storedSpelling(of target: String) -> String {
        for index in 0..<Int(CommandLine.argc) {
            guard let pointer = CommandLine.unsafeArgv[index] else { continue }
            let bytes = Array(UnsafeBufferPointer(start: pointer, count: strlen(pointer))).map { UInt8(bitPattern: $0) }
            if String(decoding: bytes, as: UTF8.self) == target { return SpoolEscaping.string(fromPathBytes: bytes) }
        }
        return target
    }

    /// As `LineageGraph.heading(of:)` prints a local job; a job an OpenLineage producer sent (uid `ol-…`) says so.
    static func heading(of job: LineageServerClient.JobSummary, style: TextStyle) -> String {
        let title = job.function ?? job.command
        let kind =
            job.uid.hasPrefix("ol-")
            ? "openlineage" : job.role == "run" ? "run" : job.role == "actor" ? "ray actor" : "ray task"
        let step = job.step.map { "@\($0)" } ?? "@-"
        return style.cyan(step) + " " + style.bold(title) + "  " + style.status(job.status)
            + style.dim("  job \(job.uid) (\(kind))")
    }
}
