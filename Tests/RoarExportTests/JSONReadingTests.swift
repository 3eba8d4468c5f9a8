import Foundation
import RoarCore
import Testing

@testable import RoarExport

@Suite("roar.dag/1 read back")
struct JSONReadingTests {
    @Test("a job written as roar.dag/1 JSON reads back the same (what the document carries)")
    func roundTrip() throws {
        let recorded = RecordedJob(
            job: Job(
                uid: "0123456789abcdef", step: 4, role: .task, command: "pipeline.clean", cwd: "/w",
                git: GitState(commit: "abc", branch: "main", isDirty: true), startedAt: 1_800_000_000.25,
                durationSeconds: 1.5, exitCode: nil, status: .failed, parentUID: "fedcba9876543210",
                ray: RayIdentity(
                    taskID: "t1", attempt: 2, actorID: nil, nodeID: "n1", workerID: "w1", jobID: "01000000",
                    function: "pipeline.clean"), error: "ValueError: bad", coverage: ["lost": 2]),
            inputs: [
                Ref(path: "/w/in 100%+:.csv", hashes: ["blake3": "aa"], size: 3, capture: "native"),
                Ref(path: "s3://b/k", kind: .s3, hashes: ["etag": "e"], size: 9, byteRanges: [[0, 4]]),
            ],
            outputs: [
                Ref(
                    path: "/w/ds", kind: .composite, hashes: ["blake3_merkle": "mm"], capture: "composite",
                    isClusterOnly: true,
                    components: [CompositeComponent(name: "part-0.parquet", algorithm: "blake3", digest: "cc", size: 5)]
                )
            ],
            deletes: ["/w/old"])
        let data = try JSONSerialization.data(withJSONObject: LineageGraph.jsonObject(for: recorded))
        let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let read = try #require(LineageGraph.recordedJob(fromJSONObject: object))
        #expect(read == recorded)
        #expect(LineageGraph.recordedJob(fromJSONObject: ["uid": "x", "role": "run"]) == nil)
    }
}
