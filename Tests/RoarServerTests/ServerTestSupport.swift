import Foundation
import Hummingbird
import HummingbirdTesting
import Prometheus
import RoarServer

/// A server database in a fresh temporary folder (removed by `remove()`).
struct TemporaryServer {
    let directory: String
    let storage: SQLiteLineageStorage

    init() async throws {
        directory =
            FileManager.default.temporaryDirectory.appendingPathComponent("roar-server-tests-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        storage = try SQLiteLineageStorage(path: directory + "/lineage.db")
        try await storage.migrate()
    }

    func remove() { try? FileManager.default.removeItem(atPath: directory) }

    /// A new token with these grants; the token text.
    func token(_ name: String, admin: Bool = false, grants: [String: ProjectRole] = [:]) async throws -> String {
        let token = AccessToken.generate()
        try await storage.createToken(name: name, digest: AccessToken.digest(of: token), isAdmin: admin, grants: grants)
        return token
    }

    func application(_ configure: (inout LineageServer.Configuration) -> Void = { _ in }) -> some ApplicationProtocol {
        var configuration = LineageServer.Configuration()
        configure(&configuration)
        let router = LineageServer.router(
            storage: storage, metrics: ServerMetrics(registry: PrometheusCollectorRegistry()),
            configuration: configuration)
        return Application(router: router)
    }
}

/// A `roar.dag/1` job object as `roar register` sends it.
func jobDocument(
    uid: String, parent: String? = nil, role: String = "task", function: String? = "pipeline.clean",
    inputs: [(String, String)] = [], outputs: [(String, String)] = [], startedAt: Double = 1_800_000_000
) -> [String: Any] {
    func references(_ pairs: [(String, String)]) -> [[String: Any]] {
        pairs.map { path, digest in ["path": path, "kind": "file", "hashes": ["blake3": digest], "size": 3] }
    }
    var job: [String: Any] = [
        "uid": uid, "step": NSNull(), "role": role, "command": function ?? "python pipeline.py", "status": "ok",
        "exit_code": NSNull(), "parent_uid": parent.map { $0 as Any } ?? NSNull(), "started_at": startedAt,
        "duration_s": 0.5, "error": NSNull(), "cwd": "/work", "coverage": [String: Int](),
        "inputs": references(inputs), "outputs": references(outputs), "deletes": [String](),
    ]
    job["ray"] = function.map { ["task_id": "t-" + uid, "attempt": 0, "function": $0] as [String: Any] } ?? NSNull()
    return job
}

func registerBody(jobs: [[String: Any]], edges: [(String, String, String)] = []) throws -> [UInt8] {
    let document: [String: Any] = [
        "schema": "roar.register/1", "jobs": jobs,
        "edges": edges.map { ["from": $0.0, "to": $0.1, "path": $0.2] },
    ]
    return Array(try JSONSerialization.data(withJSONObject: document, options: [.sortedKeys]))
}

/// A little pipeline: run → two cleans (each reads raw-i, writes clean-i) → merge (reads both, writes out).
func pipelineBatch() throws -> RegisterBatch {
    let digest = { (i: Int) in String(repeating: String(i), count: 64) }
    let jobs = [
        jobDocument(
            uid: "run", role: "run", function: nil, outputs: [("/w/raw-0", digest(1)), ("/w/raw-1", digest(2))]),
        jobDocument(
            uid: "clean0", parent: "run", inputs: [("/w/raw-0", digest(1))], outputs: [("/w/clean-0", digest(3))]),
        jobDocument(
            uid: "clean1", parent: "run", inputs: [("/w/raw-1", digest(2))], outputs: [("/w/clean-1", digest(4))]),
        jobDocument(
            uid: "merge", parent: "run", function: "pipeline.merge",
            inputs: [("/w/clean-0", digest(3)), ("/w/clean-1", digest(4))], outputs: [("/w/out 100%.csv", digest(5))]),
    ]
    let edges = [
        ("run", "clean0", "/w/raw-0"), ("run", "clean1", "/w/raw-1"), ("clean0", "merge", "/w/clean-0"),
        ("clean1", "merge", "/w/clean-1"),
    ]
    return try RegisterPayload.decode(try registerBody(jobs: jobs, edges: edges))
}
