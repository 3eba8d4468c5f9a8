import ArgumentParser
import Foundation
import RoarCore
import RoarExport
import RoarStore

struct Dag: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "The lineage graph of the project: jobs and what connects them.",
        discussion: """
            Formats: text (default), json (the roar.dag/1 contract of docs/dag-json.md, for \
            scripts), dot (Graphviz: `roar dag --format dot | dot -Tsvg > dag.svg`), mermaid, \
            html: one self-contained page (no network; open it from disk) with the graph laid \
            out by Graphviz (`dot` must be installed), zoom and pan, a panel with each job's \
            files, digests and Ray ids, its upstream and downstream, a search, and fan-outs of \
            5 or more tasks drawn as one group node (docs/web-view.md). html is written to \
            roar-dag.html unless -o says otherwise; the other formats to standard output. \
            openlineage and prov: the whole project, as `roar export --all` (docs/openlineage.md, \
            docs/prov.md).
            """)

    enum Format: String, ExpressibleByArgument, CaseIterable {
        case text, json, dot, mermaid, html, openlineage, prov
    }

    @Option(name: .shortAndLong, help: "Output format: text, json, dot, mermaid, html, openlineage or prov.")
    var format: Format = .text

    @Option(
        name: .shortAndLong,
        help: ArgumentHelp(
            "Write to FILE ('-': standard output). Default: roar-dag.html for html, standard output otherwise.",
            valueName: "FILE"))
    var output: String?

    func run() throws {
        let context = try ProjectContext.open()
        let graph = try context.store.graph()
        if format == .html {
            try writeHTML(graph, project: context.project)
            return
        }
        if format == .openlineage || format == .prov {
            let sink = try OutputSink(path: output == "-" ? nil : output)
            let export = format == .prov ? Export.Format.prov : .openlineage
            try Export.write(graph, selection: nil, format: export, project: context.project, to: sink)
            try sink.close()
            return
        }
        if let output, output != "-" {
            try write(render(graph, project: context.project), to: output)
            return
        }
        switch format {
        case .json:
            let data = try graph.jsonData()
            print(String(decoding: data, as: UTF8.self))
        case .dot:
            print(graph.dot())
        case .mermaid:
            print(graph.mermaid())
        case .text:
            printText(graph, project: context.project)
        case .html, .openlineage, .prov:
            break
        }
    }

    func writeHTML(_ graph: LineageGraph, project: Project) throws {
        let page: String
        do {
            page = try graph.webPage(projectDirectory: project.directory, layout: try GraphvizLayout.locate())
        } catch let error as ExportError {
            throw Failure(error.description)
        }
        let target = output ?? "roar-dag.html"
        if target == "-" {
            print(page, terminator: "")
            return
        }
        try write(page, to: target)
        let jobs = graph.jobs.count
        print("roar: wrote \(target) (\(jobs) job\(jobs == 1 ? "" : "s")): open it in a browser")
    }

    /// Any format but html as text, for `-o FILE`.
    func render(_ graph: LineageGraph, project: Project) throws -> String {
        switch format {
        case .json: String(decoding: try graph.jsonData(), as: UTF8.self) + "\n"
        case .dot: graph.dot() + "\n"
        case .mermaid: graph.mermaid() + "\n"
        case .text, .html, .openlineage, .prov:
            graph.textLines(projectDirectory: project.directory).joined(separator: "\n") + "\n"
        }
    }

    func write(_ text: String, to path: String) throws {
        do {
            try Data(text.utf8).write(to: URL(fileURLWithPath: path), options: .atomic)
        } catch {
            throw Failure("could not write \(path): \(error.localizedDescription)")
        }
    }

    func printText(_ graph: LineageGraph, project: Project) {
        if graph.jobs.isEmpty {
            print("Nothing recorded yet: try `roar run <command>`.")
            return
        }
        for line in graph.textLines(projectDirectory: project.directory, style: Terminal.standardOutput.textStyle) {
            print(line)
        }
    }
}

struct Lineage: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Where a file came from (upstream) or what used it (downstream).",
        discussion: """
            TARGET is a path or a content digest prefix. Upstream lists the job that wrote it and, \
            transitively, every job whose output that job read. Downstream lists every job that \
            read it and what read their outputs. For a dataset folder (a composite, see \
            docs/composites.md) upstream starts from every task that wrote one of its parts.

            With --server URL (or --remote: the configured glaas.url) the lineage server answers \
            instead: every registered job of the project, and the runs OpenLineage producers (Spark, \
            Airflow…) sent, joined by dataset name (docs/server.md).
            """)

    @Argument(help: "A recorded path or a digest prefix.")
    var target: String

    @Flag(help: "Upstream (default): the jobs it came from. Downstream: the jobs that used it.")
    var direction: Direction = .upstream

    enum Direction: String, EnumerableFlag {
        case upstream, downstream
    }

    @Option(
        help: ArgumentHelp(
            "Ask this lineage server instead of the local store (roar serve; every registered project's jobs, "
                + "and what OpenLineage producers sent).", valueName: "url"))
    var server: String?

    @Flag(help: "Ask the configured lineage server (glaas.url) instead of the local store.")
    var remote = false

    @Option(help: "The project's name on the server (default: the project folder's name, as `roar register`).")
    var project: String?

    func validate() throws {
        if project != nil, server == nil, !remote { throw ValidationError("--project goes with --server or --remote") }
    }

    func run() throws {
        if server != nil || remote {
            try runOnServer()
            return
        }
        let context = try ProjectContext.open()
        let found = try context.lookUp(target)
        let graph = try context.store.graph()
        let printer = JobPrinter(project: context.project, terminal: .standardOutput, graph: graph)
        guard case .content(let description, let writers, let readers, let composite) = found else {
            throw ValidationError("give a path or a digest, not a step or job (see `roar show` for those)")
        }
        print(Terminal.standardOutput.bold(description))
        if let composite { printer.printComposite(composite) }
        switch direction {
        case .upstream:
            let producers = Self.latestProducers(writers, composite: composite)
            guard !producers.isEmpty else {
                print("  no recorded job wrote it: it is a source")
                return
            }
            printer.printJobList("written by", producers)
            let upstream = graph.walk(from: producers.map(\.job.uid), forward: false)
            printer.printJobList("upstream", upstream)
        case .downstream:
            printer.printJobList("read by", readers)
            let downstream = graph.walk(from: (readers + writers).map(\.job.uid), forward: true)
                .filter { job in !readers.contains { $0.job.uid == job.job.uid } }
            printer.printJobList("downstream", downstream)
        }
    }

    /// The jobs that wrote what is there now: the last writer; for a dataset, every task that wrote the
    /// latest composite (its parts come from many).
    static func latestProducers(_ writers: [RecordedJob], composite: Ref?) -> [RecordedJob] {
        guard let composite, let digest = composite.hashes[Composite.algorithm] else { return writers.suffix(1) }
        let producers = writers.filter { recorded in
            recorded.outputs.contains { $0.path == composite.path && $0.hashes[Composite.algorithm] == digest }
        }
        return producers.isEmpty ? Array(writers.suffix(1)) : producers
    }
}
