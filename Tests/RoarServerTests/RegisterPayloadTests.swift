import RoarServer
import Testing

@Suite("roar.register/1 bodies")
struct RegisterPayloadTests {
    @Test(
        "a wrong field is named in the 400",
        arguments: [
            (#"[]"#, "the body: expected an object, got list"),
            (#"{"jobs": []}"#, "schema: missing"),
            (#"{"schema": "roar.register/1"}"#, "jobs: missing"),
            (#"{"schema": "roar.register/1", "jobs": [{"uid": "a b"}]}"#, "jobs[0].uid: expected a job uid"),
            (
                #"{"schema": "roar.register/1", "jobs": [{"uid": "a", "role": "run", "status": "ok", "command": "x", "started_at": "now"}]}"#,
                "jobs[0].started_at: expected a number, got str"
            ),
            (
                #"{"schema": "roar.register/1", "jobs": [{"uid": "a", "role": "run", "status": "ok", "command": "x", "started_at": 1, "inputs": [{"path": "/a", "kind": "file", "hashes": {"blake3": 1}}]}]}"#,
                "jobs[0].inputs[0].hashes.blake3: expected a string, got int"
            ),
            (
                #"{"schema": "roar.register/1", "jobs": [], "edges": [{"from": "a", "to": 2, "path": "/p"}]}"#,
                "edges[0].to"
            ),
        ])
    func namesTheField(body: String, message: String) {
        #expect {
            _ = try RegisterPayload.decode(Array(body.utf8))
        } throws: { error in
            guard let error = error as? ServerError else { return false }
            return error.code == .badRequest && error.message.contains(message)
        }
    }

    @Test("the main digest is blake3, else the merkle root, else sha256, else the ETag")
    func mainDigest() throws {
        let body = try registerBody(jobs: [
            jobDocument(uid: "a", outputs: [("/x", "ab")])
        ])
        let batch = try RegisterPayload.decode(body)
        #expect(batch.jobs[0].references.map(\.digest) == ["blake3:ab"])
    }
}
