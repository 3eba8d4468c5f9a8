import Foundation
import RoarCore
import RoarTransport
import Synchronization
import Testing

@testable import RoarRaySubmit

/// The host's half of a streamed host-submit without a server: the session's batches are held in
/// memory as `roar serve` holds them (bytes filed under producer and seq, listed by cursor); the
/// puller under test fetches, writes and opens them. The real server is in test_cluster_stream.py.
@Suite("streaming through GLaaS: the session, the puller, the progress")
struct SessionStreamingTests {
    let runID = "00000000000000d2"

    /// The session's batches, and what was asked of it.
    final class FiledBatches: FragmentSessionService {
        let server = "http://127.0.0.1:9"
        let filed = Mutex<[(listed: ListedSessionBatch, bytes: [UInt8])]>([])
        let fetches = Mutex(0)
        let closed = Mutex<[String]>([])
        let created = Mutex<[(project: String, runID: String, fingerprint: String, ttl: Int)]>([])

        func file(producer: String, seq: UInt64, _ bytes: [UInt8]) {
            filed.withLock { batches in
                batches.append(
                    (ListedSessionBatch(cursor: Int64(batches.count + 1), producer: producer, seq: seq), bytes))
            }
        }

        func createSession(project: String, runID: String, keyFingerprint: String, ttlSeconds: Int)
            throws(RaySubmitError) -> CreatedFragmentSession
        {
            created.withLock { $0.append((project, runID, keyFingerprint, ttlSeconds)) }
            return CreatedFragmentSession(id: "s1", capability: "roarcap_test")
        }

        func batches(session: String, after cursor: Int64?) throws(RaySubmitError) -> [ListedSessionBatch] {
            filed.withLock { $0.map(\.listed).filter { $0.cursor > (cursor ?? 0) } }
        }

        func batch(session: String, producer: String, seq: UInt64) throws(RaySubmitError) -> [UInt8] {
            fetches.withLock { $0 += 1 }
            return filed.withLock { batches in
                batches.first { $0.listed.producer == producer && $0.listed.seq == seq }?.bytes ?? []
            }
        }

        func closeSession(_ id: String) throws(RaySubmitError) { closed.withLock { $0.append(id) } }
    }

    func taskLines(_ task: String, ends: Bool) -> [UInt8] {
        let begin =
            #"{"event":"task_begin","v":1,"tag":"ray:\#(task):0","task_id":"\#(task)","attempt":0,"kind":"task","function":"p.f"}"#
        let end = #"{"event":"task_end","v":1,"tag":"ray:\#(task):0","task_id":"\#(task)","attempt":0,"status":"ok"}"#
        var lines = [
            "E\tray:\(task):0\t1100\t\(begin)",
            "F\tray:\(task):0\t1400\t1500\tw\t0\t5\t64769\t12\t5\t1450\t-\t/data/\(task).csv",
        ]
        if ends { lines.append("E\tray:\(task):0\t1600\t\(end)") }
        return Array((lines.joined(separator: "\n") + "\n").utf8)
    }

    func sealed(_ key: RunKeyPair, producer: String, seq: UInt64, final: Bool = false, _ data: [UInt8]) throws
        -> [UInt8]
    {
        let batch = SegmentBatch(
            sessionID: runID, producer: producer, isFinal: final,
            segments: [.init(file: "\(producer)-\(seq).spool", offset: 0, data: data)])
        return try BatchSealer(recipient: key.publicKey, sessionID: runID, producer: producer)
            .seal(batch, sequenceNumber: seq)
    }

    func runDirectory() throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("stream-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    @Test("a batch's file name is the agent's own (producer, seq in 20 digits)")
    func fileNames() {
        #expect(
            ListedSessionBatch(cursor: 1, producer: "node-ab", seq: 7).fileName == "node-ab-00000000000000000007.rbat")
        #expect(
            ListedSessionBatch(cursor: 1, producer: "node-ab", seq: UInt64.max).fileName
                == "node-ab-18446744073709551615.rbat")
    }

    @Test("the session is made with the key's fingerprint, and the cluster gets its own URL and the capability")
    func opensTheSession() throws {
        let service = FiledBatches()
        let key = RunKeyPair.generate()
        let target = StreamingTarget(
            server: "http://127.0.0.1:8377", clusterServer: "http://10.0.0.5:8377/", project: "proj"
        ) { _ in .success(service) }
        let opened = try target.open(runID: runID, publicKey: key.publicKey).get()
        #expect(opened.session.sessionID == "s1" && opened.session.server == "http://127.0.0.1:8377")
        #expect(opened.variables[StreamingTarget.sessionURLVariable] == "http://10.0.0.5:8377/api/v1/sessions/s1")
        #expect(opened.variables[StreamingTarget.sessionTokenVariable] == "roarcap_test")
        let made = try #require(service.created.withLock { $0.first })
        #expect(made.project == "proj" && made.runID == runID && made.ttl == StreamingTarget.sessionTimeToLive)
        #expect(made.fingerprint.count == 64 && made.fingerprint == key.publicKey.fingerprint)
        #expect(made.fingerprint != key.publicKey.base64)
    }

    @Test("no token: the reason comes back, nothing is made")
    func cannotConnect() {
        let target = StreamingTarget(server: "http://127.0.0.1:8377", clusterServer: nil, project: "proj") { _ in
            .failure(RaySubmitError(.streamingFailed, "roar has no token for it"))
        }
        guard case .failure(let error) = target.open(runID: runID, publicKey: RunKeyPair.generate().publicKey) else {
            Issue.record("a session without a token")
            return
        }
        #expect(error.code == .streamingFailed && error.message.contains("no token"))
        #expect(target.clusterServer == target.server)
    }

    @Test("pulls write each batch once under its name, count tasks and nodes, and name what does not open")
    func pullsAndCounts() throws {
        let service = FiledBatches()
        let key = RunKeyPair.generate()
        let directory = try runDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let session = StreamingSession(
            server: service.server, clusterServer: service.server, project: "proj", sessionID: "s1")
        let puller = SessionPuller(
            runDirectory: directory, session: session, keyPair: key, runID: runID, service: service)

        service.file(
            producer: "node-a", seq: 0, try sealed(key, producer: "node-a", seq: 0, taskLines("t1", ends: true)))
        service.file(
            producer: "node-b", seq: 0, try sealed(key, producer: "node-b", seq: 0, taskLines("t2", ends: false)))
        var progress = try puller.pull()
        #expect(progress.batches == 2 && progress.producers == ["node-a", "node-b"])
        #expect(progress.tasksStarted == 2 && progress.tasksEnded == 1 && progress.fileRecords == 2)
        #expect(progress.finishedProducers.isEmpty && progress.cursor == 2 && progress.refused.isEmpty)
        #expect(progress.summary.contains("from 2 nodes, 2 tasks started, 1 ended"))
        #expect(StreamProgress.read(from: directory) == progress)

        // Nothing new: nothing fetched again.
        #expect(try puller.pull().batches == 2 && service.fetches.withLock { $0 } == 2)

        // A final batch, and one changed on the server (its tag's last byte).
        service.file(
            producer: "node-b", seq: 1,
            try sealed(key, producer: "node-b", seq: 1, final: true, taskLines("t3", ends: true)))
        var tampered = try sealed(key, producer: "node-a", seq: 1, taskLines("t4", ends: true))
        tampered[tampered.count - 1] ^= 1
        service.file(producer: "node-a", seq: 1, tampered)
        progress = try puller.pull()
        #expect(progress.batches == 3 && progress.finishedProducers == ["node-b"] && progress.cursor == 4)
        let refused = try #require(progress.refused["node-a-00000000000000000001.rbat"])
        #expect(refused.contains("authentication failed"))
        // Written as the server gave it: assembly refuses it by name like any other batch.
        let names = try FileManager.default.contentsOfDirectory(atPath: directory + "/batches").filter {
            $0.hasSuffix(".rbat")
        }
        #expect(
            Set(names) == [
                "node-a-00000000000000000000.rbat", "node-b-00000000000000000000.rbat",
                "node-b-00000000000000000001.rbat", "node-a-00000000000000000001.rbat",
            ])
    }

    @Test("a producer name that would leave batches/ is refused, not written")
    func unsafeProducer() throws {
        let service = FiledBatches()
        let directory = try runDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        service.file(producer: "../../escape", seq: 0, [1, 2, 3])
        let puller = SessionPuller(
            runDirectory: directory,
            session: StreamingSession(server: "s", clusterServer: "s", project: "p", sessionID: "s1"),
            keyPair: RunKeyPair.generate(), runID: runID, service: service)
        let progress = try puller.pull()
        #expect(progress.refused.keys.contains("../../escape#0") && progress.batches == 0)
        #expect(service.fetches.withLock { $0 } == 0)
    }
}
