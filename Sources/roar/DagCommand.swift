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
            scripts), dot (Graphviz: `roar dag --format dot | dot -Tsvg > dag.svg`), mermaid.
            """)

    enum Format: String, ExpressibleByArgument, CaseIterable {
        case text, json, dot, mermaid
    }

    @Option(name: .shortAndLong, help: "Output format: text, json, dot or mermaid.")
    var format: Format = .text

    func run() throws {
        let context = try ProjectContext.open()
        let graph = LineageGraph(jobs: try context.store.allJobs(), edges: try context.store.edges())
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
        }
    }

    func printText(_ graph: LineageGraph, project: Project) {
        let terminal = Terminal.standardOutput
        let printer = JobPrinter(project: project, terminal: terminal, graph: graph)
        if graph.jobs.isEmpty {
            print("Nothing recorded yet: try `roar run <command>`.")
            return
        }
        var depth: [String: Int] = [:]
        for recorded in graph.jobs {
            let job = recorded.job
            let level = job.parentUID.flatMap { depth[$0] }.map { $0 + 1 } ?? 0
            depth[job.uid] = level
            let indent = String(repeating: "  ", count: level)
            var line = indent + printer.heading(of: job)
            if let node = job.ray?.nodeID { line += terminal.dim("  node \(node.prefix(8))") }
            print(line)
            let upstream = graph.edges.filter { $0.to == job.uid }
            var byProducer: [String: [String]] = [:]
            for edge in upstream { byProducer[edge.from, default: []].append(printer.displayPath(edge.path)) }
            for (producer, paths) in byProducer.sorted(by: { $0.key < $1.key }) {
                let step = graph.job(uid: producer).map { "@\($0.job.step ?? 0)" } ?? producer
                print(indent + "    " + terminal.dim("← \(step) via ") + paths.sorted().joined(separator: ", "))
            }
            let produced = recorded.outputs.map { printer.displayPath($0.path) }
            if !produced.isEmpty {
                let shown = produced.prefix(4).joined(separator: ", ") + (produced.count > 4 ? ", … (\(produced.count))" : "")
                print(indent + "    " + terminal.dim("→ ") + shown)
            }
        }
    }
}

struct Lineage: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Where a file came from (upstream) or what used it (downstream).",
        discussion: """
            TARGET is a path or a content digest prefix. Upstream lists the job that wrote it and, \
            transitively, every job whose output that job read. Downstream lists every job that \
            read it and what read their outputs.
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
        let lookup = TargetLookup(context: context)
        let graph = try lookup.graph()
        let printer = JobPrinter(project: context.project, terminal: .standardOutput, graph: graph)
        guard case .content(let description, let writers, let readers) = try lookup.resolve(target) else {
            throw ValidationError("give a path or a digest, not a step or job (see `roar show` for those)")
        }
        print(Terminal.standardOutput.bold(description))
        switch direction {
        case .upstream:
            guard let producer = writers.last else {
                print("  no recorded job wrote it: it is a source")
                return
            }
            printer.printJobList("written by", [producer])
            let upstream = graph.upstream(of: producer.job.uid)
            printer.printJobList("upstream", upstream)
        case .downstream:
            printer.printJobList("read by", readers)
            let downstream = graph.walk(from: (readers + writers).map(\.job.uid), forward: true)
                .filter { job in !readers.contains { $0.job.uid == job.job.uid } }
            printer.printJobList("downstream", downstream)
        }
    }
}
