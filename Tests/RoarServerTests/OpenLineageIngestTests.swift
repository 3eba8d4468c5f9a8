import Foundation
import RoarCore
import RoarExport
import Testing

@testable import RoarServer

@Suite("OpenLineage ingest: events, naming, folding, inferred edges")
struct OpenLineageIngestTests {
    static func event(
        type: String = "COMPLETE", time: String = "2026-12-04T01:21:07.5Z",
        runID: String = "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b",
        outputs: String = "[]", inputs: String = "[]"
    ) -> [UInt8] {
        Array(
            #"""
            {"eventType": "\#(type)", "eventTime": "\#(time)", "producer": "https://example.com/spark",
             "run": {"runId": "\#(runID)"}, "job": {"namespace": "spark://cluster", "name": "etl.write"},
             "inputs": \#(inputs), "outputs": \#(outputs)}
            """#.utf8)
    }

    @Test(
        "RFC 3339 times: fractions, offsets, and what is not one",
        arguments: [
            ("2026-12-04T01:21:07.123456Z", Optional(Int64(1_796_347_267_123_456))),
            ("2026-12-04T01:21:07Z", 1_796_347_267_000_000),
            ("2026-12-04T02:21:07.1+01:00", 1_796_347_267_100_000),
            ("2026-12-04T01:21:07.123456789Z", 1_796_347_267_123_456),
            ("2026-12-04 01:21:07Z", 1_796_347_267_000_000),
            ("2026-12-04T01:21:07", nil), ("yesterday", nil), ("2026-13-04T01:21:07Z", nil),
        ])
    func times(text: String, microseconds: Int64?) {
        #expect(Microseconds(rfc3339: text)?.value == microseconds)
        if let microseconds, text.hasSuffix("456Z") { #expect(Microseconds(microseconds).rfc3339 == text) }
    }

    @Test(
        "dataset names map back to roar's paths",
        arguments: [
            ("file://node-7", "/data/odd dir/we+ird:name é.txt", "/data/odd dir/we+ird:name é.txt", "file"),
            ("file", "/tmp/latin\\xe9.txt", "/tmp/latin\\xe9.txt", "file"),
            ("s3://bucket", "in/odd key+1.txt", "s3://bucket/in/odd key+1.txt", "s3"),
            ("s3a://bucket/", "/in/k", "s3://bucket/in/k", "s3"),
            ("s3://bucket", "", "s3://bucket", "s3"),
            ("hdfs://nn:8020", "/warehouse/t", "hdfs://nn:8020/warehouse/t", "dataset"),
            ("postgres://db:5432", "shop.public.orders", "postgres://db:5432/shop.public.orders", "dataset"),
        ])
    func naming(namespace: String, name: String, path: String, kind: String) {
        let mapped = OpenLineageDatasetName.path(namespace: namespace, name: name)
        #expect(mapped.path == path && mapped.kind == kind)
    }

    @Test(
        "a wrong field is named in the 400",
        arguments: [
            (
                #"{"run": {"runId": "x"}, "job": {"namespace": "n", "name": "j"}, "eventTime": "2026-12-04T01:21:07Z"}"#,
                "run.runId: expected a UUID"
            ),
            (#"{"dataset": {"namespace": "n", "name": "d"}}"#, "run: missing: this is a DatasetEvent"),
            (
                #"{"run": {"runId": "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"}, "job": {"namespace": "n", "name": "j"}}"#,
                "eventTime: missing"
            ),
            ("[1]", "the body: expected an object, got list"),
        ])
    func refusals(body: String, message: String) {
        #expect {
            _ = try OpenLineageRunEvent.decode(Array(body.utf8))
        } throws: { error in
            (error as? ServerError).map { $0.code == .badRequest && $0.message.contains(message) } ?? false
        }
    }

    @Test("START and COMPLETE fold into one job, in either order and any number of times")
    func folding() throws {
        let output = #"[{"namespace": "file", "name": "/data/features.csv"}]"#
        let start = try OpenLineageRunEvent.decode(Self.event(type: "START", time: "2026-12-04T01:00:00Z"))
        let complete = try OpenLineageRunEvent.decode(
            Self.event(
                time: "2026-12-04T01:01:00Z", outputs: output, inputs: #"[{"namespace": "s3://b", "name": "k"}]"#))
        let inOrder = try #require(
            OpenLineageRunDocument.fold(complete, into: OpenLineageRunDocument.fold(start, into: nil)?.document))
        let reversed = try #require(
            OpenLineageRunDocument.fold(start, into: OpenLineageRunDocument.fold(complete, into: nil)?.document))
        #expect(inOrder.document == reversed.document)
        #expect(OpenLineageRunDocument.fold(complete, into: inOrder.document)?.document == inOrder.document)
        #expect(inOrder.uid == "ol-0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b" && inOrder.role == "run")
        #expect(inOrder.status == "ok" && inOrder.command == "etl.write")
        #expect(inOrder.startedAt == Microseconds(rfc3339: "2026-12-04T01:00:00Z")?.seconds)
        #expect(
            Set(inOrder.references.map { "\($0.direction.rawValue) \($0.path)" })
                == ["output /data/features.csv", "input s3://b/k"])
        // A job `roar register` stored is not overwritten by events.
        #expect(OpenLineageRunDocument.fold(complete, into: #"{"uid": "a", "role": "run"}"#) == nil)
    }

    @Test("edges: the same digest joins whatever the times; without one, the latest earlier writer")
    func inferredEdges() {
        typealias Use = OpenLineageEdges.Use
        let uses = [
            Use(uid: "spark-old", startedAt: 10, isOutput: true, path: "/f", digest: nil),
            Use(uid: "spark-new", startedAt: 20, isOutput: true, path: "/f", digest: nil),
            Use(uid: "spark-later", startedAt: 40, isOutput: true, path: "/f", digest: nil),
            Use(uid: "ray", startedAt: 30, isOutput: false, path: "/f", digest: "blake3:aa"),
            Use(uid: "roar-writer", startedAt: 50, isOutput: true, path: "/g", digest: "blake3:bb"),
            Use(uid: "roar-reader", startedAt: 5, isOutput: false, path: "/g", digest: "blake3:bb"),
            Use(uid: "other-reader", startedAt: 60, isOutput: false, path: "/g", digest: "blake3:cc"),
        ]
        #expect(
            OpenLineageEdges.edges(involving: "ray", uses: uses) == [
                LineageEdge(from: "spark-new", to: "ray", path: "/f")
            ])
        #expect(OpenLineageEdges.edges(involving: "spark-old", uses: uses).isEmpty)
        let afterRegistering = [
            Use(uid: "ol-spark", startedAt: 10, isOutput: true, path: "/f", digest: nil),
            Use(uid: "roar-a", startedAt: 20, isOutput: true, path: "/f", digest: "blake3:aa"),
            Use(uid: "roar-b", startedAt: 30, isOutput: false, path: "/f", digest: nil),
            Use(uid: "roar-c", startedAt: 30, isOutput: false, path: "/f", digest: "blake3:dd"),
        ]
        // roar-b's edge from roar-a came with its registration; only the foreign one is inferred.
        #expect(
            OpenLineageEdges.foreignEdges(among: afterRegistering) == [
                LineageEdge(from: "ol-spark", to: "roar-c", path: "/f")
            ])
        #expect(
            OpenLineageEdges.edges(involving: "roar-writer", uses: uses) == [
                LineageEdge(from: "roar-writer", to: "roar-reader", path: "/g")
            ])
    }

    @Test("storage: a foreign writer is joined to a registered reader, and re-sending changes nothing")
    func storage() async throws {
        let server = try await TemporaryServer()
        defer { server.remove() }
        let path = "/landing/odd dir/we+ird:name é.txt"
        let batch = try RegisterPayload.decode(
            try registerBody(jobs: [jobDocument(uid: "train", inputs: [(path, String(repeating: "a", count: 64))])]))
        _ = try await server.storage.register(batch, project: "p")
        let reader = batch.jobs[0]
        let time = Microseconds(seconds: reader.startedAt - 60).rfc3339
        let event = try OpenLineageRunEvent.decode(
            Self.event(time: time, outputs: #"[{"namespace": "file://elsewhere", "name": "\#(path)"}]"#))
        let uid = OpenLineageRunDocument.uid(of: event)
        let first = try await server.storage.foldJob(uid: uid, project: "p") {
            OpenLineageRunDocument.fold(event, into: $0)
        }
        #expect(first.stored == .inserted && first.edgesInserted >= 1)
        let again = try await server.storage.foldJob(uid: uid, project: "p") {
            OpenLineageRunDocument.fold(event, into: $0)
        }
        #expect(again.stored == .unchanged && again.edgesInserted == 0)
        let upstream = try await server.storage.lineage(
            project: "p", start: .job(reader.uid), direction: .upstream, depth: 1)
        #expect(upstream.edges.contains(LineageEdgeRecord(from: uid, to: reader.uid, path: path)))
    }
}
