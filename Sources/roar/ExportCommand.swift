import ArgumentParser
import Foundation
import RoarCapture
import RoarCore
import RoarExport
import RoarStore

#if canImport(Glibc)
    import Glibc
#endif

struct Export: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Export steps as OpenLineage events or a W3C PROV-JSON document.",
        discussion: """
            STEPS are `@N`: each selects that step's jobs and every Ray task below them (@1 is a \
            `roar run` and all of its tasks). Without STEPS the newest `roar run` is exported; --all \
            exports every step (as `roar dag --format openlineage|prov` does).

            openlineage: OpenLineage 2-0-2 RunEvents, one JSON object per line (NDJSON), in time \
            order: per job a START, then COMPLETE (ok), FAIL (failed) or ABORT (killed, partial) with \
            its inputs and outputs. Run ids are UUIDs derived from the job uid, so exporting twice \
            gives the same bytes. Datasets are named as OpenLineage names them: `file://<host>` + \
            absolute path, `s3://<bucket>` + key; roar's digests are in the `roar_hashes` facet \
            (schema: docs/schemas/). A composite lists at most 64 parts; an event at most 500 \
            datasets (the rest come in RUNNING events before the terminal one). docs/openlineage.md

            prov: one PROV-JSON document: jobs are activities, each path version an entity (its \
            digests as attributes), with used, wasGeneratedBy, wasInformedBy (along lineage edges), \
            wasDerivedFrom (outputs from the same job's inputs) and wasAssociatedWith an agent \
            `<user>@<host>` (the user is the one exporting: the store does not record it). docs/prov.md

            Examples:
              roar export -f openlineage -o events.ndjson   the newest run
              roar export -f prov @3 @4                      two steps, their tasks
              roar export -f openlineage --all | wc -l       every step
            """)

    enum Format: String, ExpressibleByArgument, CaseIterable {
        case openlineage, prov
    }

    @Option(name: .shortAndLong, help: "openlineage (NDJSON RunEvents) or prov (PROV-JSON).")
    var format: Format

    @Argument(help: "Steps to export, `@N` (default: the newest `roar run`).")
    var steps: [String] = []

    @Flag(help: "Export every step.")
    var all = false

    @Option(name: .shortAndLong, help: "Write to FILE instead of standard output ('-': standard output).")
    var output: String?

    func validate() throws {
        if all, !steps.isEmpty { throw ValidationError("give steps or --all, not both") }
        for step in steps where Self.stepNumber(step) == nil {
            throw ValidationError("'\(step)' is not a step: use @ and a number, e.g. @3")
        }
    }

    static func stepNumber(_ text: String) -> Int? {
        guard text.hasPrefix("@"), let number = Int(text.dropFirst()), number >= 0 else { return nil }
        return number
    }

    func run() throws {
        let context = try ProjectContext.open()
        // OpenLineage needs no edges (readers and writers meet by dataset name and version): not loading
        // them saves most of the load time of a large store.
        let graph =
            format == .openlineage
            ? LineageGraph(jobs: try context.store.allJobs(), edges: []) : try context.store.graph()
        var selection: [RecordedJob]?
        if !all {
            let numbers = steps.isEmpty ? graph.latestRunStep.map { [$0] } ?? [] : steps.compactMap(Self.stepNumber)
            let known = Set(graph.jobs.compactMap(\.job.step))
            if let missing = numbers.first(where: { !known.contains($0) }) {
                throw Failure("no step @\(missing) (see `roar log`)")
            }
            selection = graph.jobs(inSteps: Set(numbers))
        }
        let sink = try OutputSink(path: output == "-" ? nil : output)
        try Self.write(graph, selection: selection, format: format, project: context.project, to: sink)
        try sink.close()
    }

    /// The name of the current user from the password database, when `$USER` is not set.
    static func loginName() -> String {
        guard let entry = getpwuid(getuid()), let name = entry.pointee.pw_name else { return "uid-\(getuid())" }
        return String(cString: name)
    }

    /// The job namespace `roar://<project folder name>` and this host: what every OpenLineage export uses,
    /// and `roar register --openlineage` sends.
    static func openLineageOptions(project: Project, hostname: String = TracedRun.hostname()) -> OpenLineageOptions {
        let name = project.directory.split(separator: "/").last.map(String.init) ?? "project"
        return OpenLineageOptions(projectName: name, hostname: hostname)
    }

    /// Writes the export of `selection` (every job when nil) to `sink`, OpenLineage one event at a time;
    /// `roar dag --format openlineage|prov` calls it too.
    static func write(
        _ graph: LineageGraph, selection: [RecordedJob]?, format: Format, project: Project, to sink: OutputSink
    ) throws {
        let hostname = TracedRun.hostname()
        switch format {
        case .openlineage:
            let options = openLineageOptions(project: project, hostname: hostname)
            try graph.forEachOpenLineageEvent(for: selection, options: options) { event in
                try sink.write(event.jsonLine())
                try sink.write("\n")
            }
        case .prov:
            let user = ProcessInfo.processInfo.environment["USER"] ?? Self.loginName()
            try sink.write(graph.provJSON(for: selection, options: PROVOptions(user: user, hostname: hostname)))
        }
    }
}

/// Standard output or a file, written in 1 MiB blocks.
final class OutputSink {
    let path: String?
    let handle: FileHandle
    var buffer: [UInt8] = []

    init(path: String?) throws {
        self.path = path
        guard let path else {
            handle = FileHandle.standardOutput
            return
        }
        guard FileManager.default.createFile(atPath: path, contents: nil),
            let handle = FileHandle(forWritingAtPath: path)
        else { throw Failure("could not create \(path): check the folder exists and is writable") }
        self.handle = handle
    }

    func write(_ text: String) throws {
        buffer += text.utf8
        if buffer.count >= 1 << 20 { try flush() }
    }

    func flush() throws {
        guard !buffer.isEmpty else { return }
        do {
            try handle.write(contentsOf: buffer)
        } catch {
            throw Failure("could not write \(path ?? "standard output"): \(error.localizedDescription)")
        }
        buffer.removeAll(keepingCapacity: true)
    }

    func close() throws {
        try flush()
        if path != nil { try? handle.close() }
    }
}
