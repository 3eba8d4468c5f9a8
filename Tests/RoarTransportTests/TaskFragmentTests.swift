import Foundation
import RoarCore
import Testing

@testable import RoarTransport

@Suite("TaskFragment JSON")
struct TaskFragmentTests {
    static func sample() -> TaskFragment {
        TaskFragment(
            sessionID: "sess-1", jobUID: "0123456789abcdef", parentJobUID: "fedcba9876543210", rayTaskID: "aa11",
            rayAttempt: 2, rayActorID: "ac70", rayNodeID: "n1", rayWorkerID: "w1", rayJobID: "01000000",
            functionName: "pipeline.Counter.add", pid: 77, startedAt: 1_764_262_800.5, endedAt: 1_764_262_801.75,
            status: .failed, exitCode: 1, error: "ValueError: bad row", sequenceNumber: 9, isFinal: true,
            reads: [
                FragmentRef(
                    path: "s3://bucket/key", hashes: ["etag": "abc", "s3_version_id": "v1"], size: 10,
                    capture: "boto3", byteRanges: [.init(offset: 0, length: 4)])
            ],
            writes: [
                FragmentRef(
                    path: "/out/x.bin", hashes: ["blake3": String(repeating: "c", count: 64)], size: 3,
                    capture: "native",
                    version: FileVersion(device: 1, inode: 2, size: 3, modifiedNanoseconds: 4))
            ],
            coverage: ["static-exec": 1])
    }

    @Test func roundTripsThroughJSON() throws {
        let fragment = Self.sample()
        let decoded = try TaskFragment.decode(from: try fragment.encoded())
        #expect(decoded == fragment)
        #expect(decoded.reads[0].kind == .s3)
        #expect(decoded.writes[0].kind == .file)
        #expect(decoded.writes[0].ref.version == fragment.writes[0].version)
    }

    @Test func usesSnakeCaseKeys() throws {
        let object = try #require(
            try JSONSerialization.jsonObject(with: Data(try Self.sample().encoded())) as? [String: Any])
        for key in [
            "schema", "session_id", "job_uid", "parent_job_uid", "ray_task_id", "ray_attempt", "ray_actor_id",
            "ray_node_id", "ray_worker_id", "ray_job_id", "function_name", "pid", "started_at", "ended_at", "status",
            "exit_code", "error", "seq", "final", "reads", "writes", "coverage",
        ] {
            #expect(object[key] != nil, "missing \(key)")
        }
        #expect(object["schema"] as? String == "roar.fragment/1")
        let write = try #require((object["writes"] as? [[String: Any]])?.first)
        let version = try #require(write["version"] as? [String: Any])
        #expect(Set(version.keys) == ["dev", "ino", "size", "mtime_ns"])
        let read = try #require((object["reads"] as? [[String: Any]])?.first)
        #expect(read["byte_ranges"] != nil)
        #expect(read["kind"] == nil)
    }

    @Test(arguments: try Vectors.names(prefix: "valid-"))
    func decodesValidVector(name: String) throws {
        let fragment = try TaskFragment.decode(from: try Vectors.bytes(name))
        #expect(fragment.sessionID == "sess-test-0001")
        #expect(try TaskFragment.decode(from: try fragment.encoded()) == fragment)
    }

    @Test(arguments: try Vectors.names(prefix: "invalid-"))
    func rejectsInvalidVector(name: String) throws {
        #expect(throws: (any Error).self) { try TaskFragment.decode(from: try Vectors.bytes(name)) }
    }
}
