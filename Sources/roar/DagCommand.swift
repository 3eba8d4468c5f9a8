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
            openlineage and prov (the whole project, as `roar export --all`).
            """)

    enum Format: String, ExpressibleByArgument, CaseIterable {
        case text, json, dot, mermaid, openlineage, prov
    }

    @Option(name: .shortAndLong, help: "Output format: text, json, dot, mermaid, openlineage or prov.")
    var format: Format = .text

    func run() throws {
        let context = try ProjectContext.open()
        let graph = try context.store.graph()
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
        case .openlineage, .prov:
            let export = format == .prov ? Export.Format.prov : .openlineage
            let sink = try OutputSink(path: nil)
            try Export.write(graph, selection: nil, format: export, project: context.project, to: sink)
            try sink.close()
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
            """)

    @Argument(help: "A recorded path or a digest prefix.")
    var target: String

    @Flag(help: "Upstream (default): the jobs it came from. Downstream: the jobs that used it.")
    var direction: Direction = .upstream

    enum Direction: String, EnumerableFlag {
        case upstream, downstream
    }

    func run() throws {
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
