import Foundation
import RoarCore
import Testing

@testable import RoarExport

/// The `roar.dag/1` contract of docs/dag-json.md, and the DOT, Mermaid and text layouts of the
/// same small graph: a run, a Ray task it started that read the run's output, and an actor call.
@Suite("roar.dag/1 and the diagram formats")
struct RoarDagContractTests {
    static let project = "/home/me/proj"

    static let graph: LineageGraph = {
        let run = Job(
            uid: "0f0e0d0c0b0a0908", step: 1, role: .run, command: "python pipeline.py", cwd: project,
            git: GitState(commit: "abc123", branch: "main", isDirty: false), startedAt: 1_795_795_200.5,
            durationSeconds: 2.25, exitCode: 0, status: .ok, hostname: "host")
        let task = Job(
            uid: "1a2b3c4d5e6f7a8b", step: 2, role: .task, command: "pipeline.clean", startedAt: 1_795_795_201,
            durationSeconds: 0.412, status: .ok, parentUID: run.uid,
            ray: RayIdentity(
                taskID: "c8ef45", attempt: 0, nodeID: "56c38e80aa", workerID: "w1", jobID: "01000000",
                function: "pipeline.clean"))
        let actor = Job(
            uid: "2b3c4d5e6f7a8b9c", step: 3, role: .actor, command: "pipeline.Counter.add", startedAt: 1_795_795_202,
            status: .failed, parentUID: run.uid,
            ray: RayIdentity(taskID: "d9f0", attempt: 1, actorID: "act1", function: "pipeline.Counter.add"),
            error: "ValueError: bad", coverage: ["lost": 2])
        let raw = Ref(
            path: project + "/data/raw.csv", hashes: ["blake3": String(repeating: "a", count: 64)], size: 10,
            capture: "native")
        let clean = Ref(
            path: project + "/work/clean.csv", hashes: ["blake3": String(repeating: "b", count: 64)], size: 8,
            capture: "native", isClusterOnly: true)
        return LineageGraph(
            jobs: [
                RecordedJob(job: run, outputs: [raw]),
                RecordedJob(job: task, inputs: [raw], outputs: [clean], deletes: [project + "/tmp.txt"]),
                RecordedJob(job: actor, inputs: [clean]),
            ],
            edges: [
                LineageEdge(from: run.uid, to: task.uid, path: raw.path),
                LineageEdge(from: task.uid, to: actor.uid, path: clean.path),
            ])
    }()

    func document() throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: try Self.graph.jsonData()) as? [String: Any])
    }

    func jobs() throws -> [[String: Any]] {
        try #require(try document()["jobs"] as? [[String: Any]])
    }

    @Test func documentNamesItsSchema() throws {
        let document = try document()
        #expect(document["schema"] as? String == "roar.dag/1")
        #expect(Set(document.keys) == ["schema", "jobs", "edges"])
    }

    @Test func everyJobHasEveryDocumentedFieldWithItsType() throws {
        for job in try jobs() {
            #expect(job["uid"] is String)
            #expect(job["step"] is Int)
            #expect(["run", "task", "actor"].contains(job["role"] as? String))
            #expect(job["command"] is String)
            #expect(["ok", "failed", "killed", "partial", "running"].contains(job["status"] as? String))
            #expect(job["started_at"] is Double)
            #expect(job["coverage"] is [String: Int])
            #expect(job["inputs"] is [[String: Any]])
            #expect(job["outputs"] is [[String: Any]])
            #expect(job["deletes"] is [String])
            // Present and null when unknown: scripts may index them without checking first.
            for field in ["exit_code", "parent_uid", "duration_s", "error", "cwd", "ray"] {
                #expect(job.keys.contains(field), "\(field) missing from \(job["uid"] ?? "?")")
            }
        }
    }

    @Test func nullableFieldsHoldTheirTypesWhenSet() throws {
        let byUID = Dictionary(uniqueKeysWithValues: try jobs().map { ($0["uid"] as! String, $0) })
        let run = try #require(byUID["0f0e0d0c0b0a0908"])
        #expect(run["exit_code"] as? Int == 0)
        #expect(run["duration_s"] as? Double == 2.25)
        #expect(run["cwd"] as? String == Self.project)
        #expect(run["parent_uid"] is NSNull)
        #expect(run["ray"] is NSNull)
        let git = try #require(run["git"] as? [String: Any])
        #expect(git["commit"] as? String == "abc123")
        #expect(git["branch"] as? String == "main")
        #expect(git["dirty"] as? Bool == false)

        let task = try #require(byUID["1a2b3c4d5e6f7a8b"])
        #expect(task["parent_uid"] as? String == "0f0e0d0c0b0a0908")
        #expect(task["exit_code"] is NSNull)
        #expect(task["git"] == nil)
        #expect(task["deletes"] as? [String] == [Self.project + "/tmp.txt"])
        let ray = try #require(task["ray"] as? [String: Any])
        #expect(ray["task_id"] as? String == "c8ef45")
        #expect(ray["attempt"] as? Int == 0)
        #expect(ray["actor_id"] is NSNull)
        #expect(ray["node_id"] as? String == "56c38e80aa")
        #expect(ray["worker_id"] as? String == "w1")
        #expect(ray["job_id"] as? String == "01000000")
        #expect(ray["function"] as? String == "pipeline.clean")

        let actor = try #require(byUID["2b3c4d5e6f7a8b9c"])
        #expect(actor["role"] as? String == "actor")
        #expect(actor["error"] as? String == "ValueError: bad")
        #expect(actor["coverage"] as? [String: Int] == ["lost": 2])
        #expect((actor["ray"] as? [String: Any])?["actor_id"] as? String == "act1")
        #expect((actor["ray"] as? [String: Any])?["job_id"] is NSNull)
    }

    @Test func refsCarryPathKindHashesSizeAndCapture() throws {
        let task = try #require(try jobs().first { $0["uid"] as? String == "1a2b3c4d5e6f7a8b" })
        let input = try #require((task["inputs"] as? [[String: Any]])?.first)
        #expect(input["path"] as? String == Self.project + "/data/raw.csv")
        #expect(input["kind"] as? String == "file")
        #expect(input["hashes"] as? [String: String] == ["blake3": String(repeating: "a", count: 64)])
        #expect(input["size"] as? Int == 10)
        #expect(input["capture"] as? String == "native")
        #expect(input["cluster_only"] == nil)
        let output = try #require((task["outputs"] as? [[String: Any]])?.first)
        #expect(output["cluster_only"] as? Bool == true)
    }

    @Test func edgesSayWhoReadWhatFromWhom() throws {
        let edges = try #require(try document()["edges"] as? [[String: String]])
        #expect(
            edges == [
                ["from": "0f0e0d0c0b0a0908", "to": "1a2b3c4d5e6f7a8b", "path": Self.project + "/data/raw.csv"],
                ["from": "1a2b3c4d5e6f7a8b", "to": "2b3c4d5e6f7a8b9c", "path": Self.project + "/work/clean.csv"],
            ])
    }

    @Test func dotShowsJobsAsBoxesAndFilesAsEllipses() {
        #expect(
            Self.graph.dot() == """
                digraph roar {
                  rankdir=LR;
                  node [fontname="monospace"];
                  j0f0e0d0c0b0a0908 [shape=box, label="@1 python pipeline.py"];
                  a0 [shape=ellipse, label="data/raw.csv aaaaaaaa"];
                  j0f0e0d0c0b0a0908 -> a0;
                  j1a2b3c4d5e6f7a8b [shape=box, label="@2 pipeline.clean"];
                  a0 -> j1a2b3c4d5e6f7a8b;
                  a1 [shape=ellipse, label="work/clean.csv bbbbbbbb"];
                  j1a2b3c4d5e6f7a8b -> a1;
                  j2b3c4d5e6f7a8b9c [shape=box, label="@3 pipeline.Counter.add (attempt 1)", color=red];
                  a1 -> j2b3c4d5e6f7a8b9c;
                }
                """)
    }

    @Test func mermaidShowsJobsAndThePathsBetweenThem() {
        #expect(
            Self.graph.mermaid() == """
                flowchart LR
                  j0f0e0d0c0b0a0908["@1 python pipeline.py"]
                  j1a2b3c4d5e6f7a8b["@2 pipeline.clean"]
                  j2b3c4d5e6f7a8b9c["@3 pipeline.Counter.add (attempt 1)"]
                  j0f0e0d0c0b0a0908 -->|"data/raw.csv"| j1a2b3c4d5e6f7a8b
                  j1a2b3c4d5e6f7a8b -->|"work/clean.csv"| j2b3c4d5e6f7a8b9c
                """)
    }

    @Test func textLayoutLabelsEachIdByWhatItIs() {
        #expect(
            Self.graph.textLines(projectDirectory: Self.project) == [
                "@1 python pipeline.py  ok  job 0f0e0d0c0b0a0908 (run)",
                "    → data/raw.csv",
                "  @2 pipeline.clean  ok  job 1a2b3c4d5e6f7a8b (ray task)  ray node 56c38e80",
                "      ← @1 via data/raw.csv",
                "      → work/clean.csv",
                "  @3 pipeline.Counter.add (attempt 1)  failed  job 2b3c4d5e6f7a8b9c (ray actor)",
                "      ← @2 via work/clean.csv",
            ])
    }

    /// Two tasks write a dataset of two parts; a later run reads it whole, and also a lone file.
    static let datasetGraph: LineageGraph = {
        func job(_ uid: String, _ step: Int, _ role: Job.Role) -> Job {
            Job(uid: uid, step: step, role: role, command: uid, startedAt: Double(step), status: .ok)
        }
        let parts = (0..<2).map { index in
            Ref(path: project + "/out/p\(index)", hashes: ["blake3": String(repeating: "\(index)", count: 64)])
        }
        let lone = Ref(path: project + "/out.txt", hashes: ["blake3": String(repeating: "c", count: 64)])
        let dataset = Composite(
            path: project + "/out",
            components: parts.enumerated().map { index, part in
                CompositeComponent(name: "p\(index)", ref: part)!
            }
        ).ref
        return LineageGraph(
            jobs: [
                RecordedJob(job: job("w0", 1, .task), outputs: [parts[0], dataset, lone]),
                RecordedJob(job: job("w1", 1, .task), outputs: [parts[1], dataset]),
                RecordedJob(job: job("r", 2, .run), inputs: parts + [dataset, lone]),
            ],
            edges: [
                LineageEdge(from: "w0", to: "r", path: parts[0].path),
                LineageEdge(from: "w0", to: "r", path: dataset.path),
                LineageEdge(from: "w0", to: "r", path: lone.path),
                LineageEdge(from: "w1", to: "r", path: parts[1].path),
                LineageEdge(from: "w1", to: "r", path: dataset.path),
            ])
    }()

    @Test func aDatasetReadWholeIsListedAsItsFolder() {
        let lines = Self.datasetGraph.textLines(projectDirectory: Self.project)
        #expect(lines.contains("    → out/ (1 part), out.txt"))
        // Both writers are step 1: one line, the dataset with both parts.
        #expect(lines.suffix(2) == ["@2 r  ok  job r (run)", "    ← @1 via out/ (2 parts), out.txt"])
    }

    @Test func aCompositeRefCarriesItsParts() throws {
        let object = LineageGraph.jsonObject(for: Self.datasetGraph.jobs[0].outputs[1])
        #expect(object["kind"] as? String == "composite")
        let hashes = try #require(object["hashes"] as? [String: String])
        #expect(Array(hashes.keys) == ["blake3_merkle"])
        let components = try #require(object["components"] as? [[String: Any]])
        #expect(components.map { $0["name"] as? String } == ["p0", "p1"])
        #expect(components.first?["hashes"] as? [String: String] == ["blake3": String(repeating: "0", count: 64)])
    }

    @Test func rootOfATaskIsItsRun() {
        let task = Self.graph.jobs[2].job
        #expect(Self.graph.root(of: task).uid == "0f0e0d0c0b0a0908")
        #expect(Self.graph.root(of: Self.graph.jobs[0].job).uid == "0f0e0d0c0b0a0908")
    }
}
