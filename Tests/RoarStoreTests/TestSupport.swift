import Foundation
import RoarCore

@testable import RoarStore

/// A fresh directory under the system's temporary directory, removed by `remove()`.
struct TemporaryDirectory {
    let path: String

    init() throws {
        path =
            FileManager.default.temporaryDirectory
            .appendingPathComponent("roar-store-tests-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    var databasePath: String { path + "/roar.db" }

    func remove() {
        try? FileManager.default.removeItem(atPath: path)
    }
}

/// Runs `body` with a store in a fresh directory, removed afterwards.
func withStore<T>(_ body: (RoarStore, TemporaryDirectory) throws -> T) throws -> T {
    let directory = try TemporaryDirectory()
    defer { directory.remove() }
    let store = try RoarStore(path: directory.databasePath)
    return try body(store, directory)
}

/// A job with every field set to something distinctive.
func fullJob(uid: String = "0123456789abcdef", step: Int? = 3) -> Job {
    Job(
        uid: uid, step: step, role: .task, command: "python pipeline.py --epochs 3", cwd: "/home/me/project",
        git: GitState(commit: "4b825dc642cb6eb9a060e54bf8d69288fbee4904", branch: "main", isDirty: true),
        startedAt: 1_732_712_345.123_456_7, durationSeconds: 12.25, exitCode: -9, status: .killed,
        parentUID: "fedcba9876543210",
        ray: RayIdentity(
            taskID: "c8ef45ccd0112571ffffffffffffffffffffffff01000000", attempt: 2, actorID: "actor-1",
            nodeID: "node-1", workerID: "worker-1", jobID: "01000000", function: "pipeline.Counter.add"),
        error: "ValueError: bad input", hostname: "node-a", coverage: ["static-exec": 2, "lost": 7])
}

/// A minimal job: every optional field empty.
func bareJob(_ uid: String, step: Int? = nil, startedAt: Double = 1_700_000_000) -> Job {
    Job(uid: uid, step: step, role: .run, command: "true", startedAt: startedAt, status: .ok)
}

/// A file ref with a BLAKE3 digest and a version.
func fileRef(
    _ path: String, blake3: String?, inode: UInt64 = 1, mtime: Int64 = 1_000, size: Int64 = 10
) -> Ref {
    Ref(
        path: path, kind: .file, hashes: blake3.map { ["blake3": $0] } ?? [:], size: size, capture: "native",
        version: FileVersion(device: 42, inode: inode, size: size, modifiedNanoseconds: mtime))
}

/// A 64-hex-digit digest made from a short tag, so tests read clearly.
func digest(_ tag: String) -> String {
    let hex = tag.utf8.map { String($0, radix: 16) }.joined()
    return (hex + String(repeating: "0", count: 64)).prefix(64).lowercased()
}
