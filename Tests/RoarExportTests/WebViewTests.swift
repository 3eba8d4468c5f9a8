import Foundation
import RoarCore
import Testing

@testable import RoarExport

/// The web view of `roar dag --format html`: fan-outs grouped, edges labelled, the page's data
/// embedded so that no path can break out of its script element, and Graphviz's layout read back.
@Suite("The web view: grouping, escaping, layout")
struct WebViewTests {
    static let project = "/home/me/proj"

    /// A run writes a dataset of 7 parts; 7 `p.clean` tasks (one failed) each read a part and write
    /// a file; 2 `p.other` tasks read nothing; `p.merge` reads every clean file.
    static let fanOut: LineageGraph = {
        let run = Job(uid: "run", step: 1, role: .run, command: "/venv/bin/python p.py", startedAt: 0, status: .ok)
        func task(_ uid: String, _ function: String, step: Int, status: Job.Status = .ok) -> Job {
            Job(
                uid: uid, step: step, role: .task, command: function, startedAt: Double(step), durationSeconds: 0.5,
                status: status, parentUID: run.uid, ray: RayIdentity(taskID: "t-" + uid, attempt: 0, function: function)
            )
        }
        let parts = (0..<7).map { Ref(path: project + "/data/in/part-\($0).csv", hashes: ["blake3": "\($0)"]) }
        let dataset = Composite(
            path: project + "/data/in",
            components: parts.enumerated().map { CompositeComponent(name: "part-\($0.offset).csv", ref: $0.element)! }
        ).ref
        let cleaned = (0..<7).map { Ref(path: project + "/work/clean-\($0).csv", hashes: ["blake3": "c\($0)"]) }
        var jobs = [RecordedJob(job: run, outputs: parts + [dataset])]
        var edges: [LineageEdge] = []
        for index in 0..<7 {
            let uid = "clean\(index)"
            jobs.append(
                RecordedJob(
                    job: task(uid, "p.clean", step: 2, status: index == 3 ? .failed : .ok), inputs: [parts[index]],
                    outputs: [cleaned[index]]))
            edges.append(LineageEdge(from: run.uid, to: uid, path: parts[index].path))
            edges.append(LineageEdge(from: uid, to: "merge", path: cleaned[index].path))
        }
        jobs.append(RecordedJob(job: task("other0", "p.other", step: 2)))
        jobs.append(RecordedJob(job: task("other1", "p.other", step: 2)))
        jobs.append(RecordedJob(job: task("merge", "p.merge", step: 3), inputs: cleaned))
        return LineageGraph(jobs: jobs, edges: edges)
    }()

    @Test func aFanOutOfFiveOrMoreIsOneGroupWithItsCounts() throws {
        let view = DagView(graph: Self.fanOut, projectDirectory: Self.project)
        #expect(view.nodes.map(\.title) == ["python p.py", "p.clean ×7", "p.other", "p.other", "p.merge"])
        let group = try #require(view.nodes.first { $0.kind == .group })
        #expect(group.jobs == (0..<7).map { "clean\($0)" })
        #expect(group.statusCounts == ["ok": 6, "failed": 1])
        #expect(DagView.statusLine(group.statusCounts) == "6 ok · 1 failed")
        #expect(group.subtitle == "6 ok · 1 failed")
        #expect(view.nodes.last?.subtitle == "@3 · ok · 500 ms")
        #expect(group.parentUID == "run")
        #expect(group.step == 2)
    }

    @Test func belowTheThresholdEveryTaskIsItsOwnNode() {
        let view = DagView(graph: Self.fanOut, projectDirectory: Self.project, groupingThreshold: 8)
        #expect(view.nodes.allSatisfy { $0.kind == .job })
        #expect(view.nodes.count == Self.fanOut.jobs.count)
    }

    @Test func edgesBetweenNodesCarryTheirFilesAndADatasetOnce() throws {
        let view = DagView(graph: Self.fanOut, projectDirectory: Self.project)
        let group = try #require(view.nodes.first { $0.kind == .group }).id
        let fromRun = try #require(view.edges.first { $0.from == "jrun" && $0.to == group })
        #expect(fromRun.kind == .data)
        #expect(fromRun.files == [DagView.File(path: Self.project + "/data/in", parts: 7)])
        #expect(fromRun.label == "data/in/ (7 parts)")
        #expect(fromRun.jobEdges == 7)
        let toMerge = try #require(view.edges.first { $0.from == group && $0.to == "jmerge" })
        #expect(toMerge.files.count == 7)
        #expect(toMerge.label == "7 files in work/")
        // The tasks that read nothing hang from their run, dashed; nothing else does.
        let parents = view.edges.filter { $0.kind == .parent }
        #expect(parents.map(\.to) == ["jother0", "jother1"])
        #expect(parents.allSatisfy { $0.from == "jrun" && $0.label.isEmpty })
    }

    static let nastyPaths = [
        "/home/me/proj/</script><script>alert(1)</script>.csv",
        "/home/me/proj/<!--<script>/x.csv",
        "/home/me/proj/a b+c:d/&amp; \"quoted\" 'single'.csv",
        "/home/me/proj/line\u{2028}sep\u{2029}para\u{1}\u{7F}.csv",
        "/home/me/proj/odd-\u{FFFD}-bytes-ü-😀\\n.csv",
    ]

    static func nastyGraph() -> LineageGraph {
        let writer = Job(uid: "w", step: 1, role: .run, command: "sh -c '</script>'", startedAt: 0, status: .ok)
        let reader = Job(uid: "r", step: 2, role: .run, command: "cat", startedAt: 1, status: .failed, error: "<b>")
        let refs = nastyPaths.map { Ref(path: $0, hashes: ["blake3": "ab"], size: 3) }
        return LineageGraph(
            jobs: [RecordedJob(job: writer, outputs: refs), RecordedJob(job: reader, inputs: refs)],
            edges: nastyPaths.map { LineageEdge(from: "w", to: "r", path: $0) })
    }

    static func page(of graph: LineageGraph) throws -> String {
        let view = DagView(graph: graph, projectDirectory: project)
        var layout = GraphLayout(width: 400, height: 100, nodes: [:], edges: [:])
        for (index, node) in view.nodes.enumerated() {
            layout.nodes[node.id] = .init(x: 100 + 200 * Double(index), y: 50, width: node.width, height: node.height)
        }
        let (document, composites) = graph.pageDocument()
        return try WebPage.html(
            title: "proj </title>", projectDirectory: project,
            document: try JSONSerialization.data(withJSONObject: document),
            composites: try JSONSerialization.data(withJSONObject: composites), view: view, layout: layout)
    }

    /// The text of the embedded `roar.web/1` document.
    static func embedded(in page: String) throws -> String {
        let opening = #"<script type="application/json" id="roar-data">"#
        let start = try #require(page.range(of: opening)).upperBound
        let end = try #require(page.range(of: "</script>", range: start..<page.endIndex)).lowerBound
        return String(page[start..<end])
    }

    @Test func nastyPathsCannotLeaveTheirScriptElement() throws {
        let page = try Self.page(of: Self.nastyGraph())
        // Two script elements (the data, the code): every `</script` is one of theirs.
        #expect(page.components(separatedBy: "</script").count - 1 == 2)
        #expect(page.lowercased().components(separatedBy: "<script").count - 1 == 2)
        let data = try Self.embedded(in: page)
        for forbidden in ["<", ">", "&", "\u{2028}", "\u{2029}"] {
            #expect(!data.contains(forbidden), "\(forbidden) in the embedded data")
        }
        #expect(page.contains("<title>proj &lt;/title&gt; · roar</title>"))
    }

    @Test func theEmbeddedDocumentParsesBackToTheSamePaths() throws {
        let page = try Self.page(of: Self.nastyGraph())
        let object = try JSONSerialization.jsonObject(with: Data(try Self.embedded(in: page).utf8))
        let document = try #require(object as? [String: Any])
        #expect(document["schema"] as? String == "roar.web/1")
        let dag = try #require(document["dag"] as? [String: Any])
        #expect(dag["schema"] as? String == "roar.dag/1")
        let jobs = try #require(dag["jobs"] as? [[String: Any]])
        let outputs = try #require(jobs.first?["outputs"] as? [[String: Any]])
        #expect(outputs.compactMap { $0["path"] as? String } == Self.nastyPaths)
        #expect(jobs.first?["command"] as? String == "sh -c '</script>'")
        let edges = try #require(dag["edges"] as? [[String: String]])
        #expect(edges.compactMap { $0["path"] } == Self.nastyPaths)
        let view = try #require(document["view"] as? [String: Any])
        #expect((view["nodes"] as? [[String: Any]])?.count == 2)
        #expect((document["layout"] as? [String: Any])?["width"] as? Double == 400)
    }

    @Test func aDatasetsPartsAreEmbeddedOnceWhateverNumberOfRefsCarryIt() throws {
        let (document, composites) = Self.fanOut.pageDocument()
        let jobs = try #require(document["jobs"] as? [[String: Any]])
        let dataset = try #require((jobs[0]["outputs"] as? [[String: Any]])?.last)
        #expect(dataset["kind"] as? String == "composite")
        #expect(dataset["components"] == nil)
        let digest = try #require((dataset["hashes"] as? [String: String])?["blake3_merkle"])
        let parts = try #require(composites[digest] as? [[String: Any]])
        #expect(parts.map { $0["name"] as? String } == (0..<7).map { "part-\($0).csv" })
    }

    @Test func noPathReachesGraphviz() {
        let source = GraphvizLayout.dotSource(of: DagView(graph: Self.nastyGraph(), projectDirectory: Self.project))
        for path in Self.nastyPaths { #expect(!source.contains(path)) }
        #expect(!source.contains("<"))
        #expect(source.contains("n0 -> n1 [id=\"x0\", label=\"xxxxxxxxxxxxxxxxxxxxxx"))
    }

    @Test func aRunsSubgraphHoldsItsTasksAndTheEdgesBetweenThem() {
        let other = Job(uid: "later", step: 4, role: .run, command: "cat", startedAt: 9, status: .ok)
        var graph = Self.fanOut
        graph.jobs.append(RecordedJob(job: other))
        graph.edges.append(LineageEdge(from: "merge", to: "later", path: "/x"))
        let run = graph.subgraph(ofRun: "run")
        #expect(run.jobs.map(\.job.uid) == Self.fanOut.jobs.map(\.job.uid))
        #expect(run.edges == Self.fanOut.edges)
        #expect(graph.subgraph(ofRun: "later").jobs.map(\.job.uid) == ["later"])
    }

    @Test func withoutDotTheErrorSaysToInstallGraphviz() {
        #expect {
            try GraphvizLayout.locate(environment: ["PATH": "/nonexistent-roar-test"])
        } throws: { error in
            guard let error = error as? ExportError else { return false }
            return error.code == .graphvizMissing && error.message.contains("install Graphviz")
                && error.message.contains("apt-get install graphviz")
        }
    }

    @Test func dotsJSONIsReadWithYGrowingDownwards() throws {
        let view = DagView(graph: Self.nastyGraph(), projectDirectory: Self.project)
        let json = """
            {"bb": "0,0,300,50", "objects": [
              {"_gvid": 0, "name": "n0", "pos": "60,25", "width": "1.6667", "height": "0.63889"},
              {"_gvid": 1, "name": "n1", "pos": "240,40", "width": "1.6667", "height": "0.63889"}],
             "edges": [{"tail": 0, "head": 1, "id": "x0", "pos": "e,180,25 120,25 140,25 160,25 170,25",
                        "lp": "150,33"}]}
            """
        let layout = try GraphvizLayout.parse(Data(json.utf8), view: view)
        #expect(layout.width == 332 && layout.height == 82)
        let second = try #require(layout.nodes[view.nodes[1].id])
        #expect(second.x == 256 && second.y == 26)
        #expect(abs(second.width - 120) < 0.01)
        let edge = try #require(layout.edges[view.edges[0].id])
        #expect(edge.points.count == 4)
        #expect(edge.points.first == [136, 41])
        #expect(edge.arrowTip == [196, 41])
        #expect(edge.labelAt == [166, 33])
    }

    @Test(.enabled(if: (try? GraphvizLayout.locate()) != nil, "Graphviz's dot is not installed"))
    func realDotLaysOutTheGroupedGraph() throws {
        let view = DagView(graph: Self.fanOut, projectDirectory: Self.project)
        let layout = try GraphvizLayout.locate().layout(view)
        #expect(Set(layout.nodes.keys) == Set(view.nodes.map(\.id)))
        #expect(Set(layout.edges.keys) == Set(view.edges.map(\.id)))
        // Left to right: the run before the group before merge.
        let x = { (id: String) in layout.nodes[id]?.x ?? -1 }
        let group = try #require(view.nodes.first { $0.kind == .group }).id
        #expect(x("jrun") < x(group) && x(group) < x("jmerge"))
        for box in layout.nodes.values {
            #expect(box.x - box.width / 2 >= 0 && box.x + box.width / 2 <= layout.width)
            #expect(box.y - box.height / 2 >= 0 && box.y + box.height / 2 <= layout.height)
        }
        let page = try Self.fanOut.webPage(projectDirectory: Self.project, layout: try GraphvizLayout.locate())
        #expect(page.hasPrefix("<!DOCTYPE html>"))
        #expect(!page.contains("http://") || page.contains("http://www.w3.org/2000/svg"))
    }
}
