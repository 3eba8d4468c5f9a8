import Foundation
import RoarCore
import Testing

@testable import RoarStore

@Suite("Merge")
struct MergeTests {
    /// A small pipeline: a driver, two tasks sharing a step, one reading the other's output.
    static func pipeline() -> [RecordedJob] {
        [
            RecordedJob(
                job: bareJob("1000000000000001", step: 1, startedAt: 10),
                inputs: [fileRef("/p/raw.csv", blake3: digest("raw"), inode: 5)],
                outputs: [fileRef("/p/clean.csv", blake3: digest("clean"), inode: 6)]),
            RecordedJob(
                job: fullJob(uid: "1000000000000002", step: 2),
                inputs: [fileRef("/p/clean.csv", blake3: digest("clean"), inode: 6)],
                outputs: [
                    fileRef("/p/model.bin", blake3: digest("model"), inode: 7),
                    Ref(path: "s3://b/model.bin", kind: .s3, hashes: ["etag": "e-model"], size: 10, capture: "boto3"),
                ],
                deletes: ["/p/clean.csv.tmp"]),
            RecordedJob(
                job: bareJob("1000000000000003", step: 2, startedAt: 1_800_000_000),
                inputs: [fileRef("/p/unhashed.log", blake3: nil, inode: 8)]),
        ]
    }

    @Test("merging the same jobs twice changes no row")
    func idempotent() throws {
        try withStore { store, _ in
            let first = try store.merge(Self.pipeline())
            #expect(first == MergeResult(insertedJobs: 3, replacedJobs: 0))
            let before = try store.tableContents()
            let second = try store.merge(Self.pipeline())
            #expect(second == MergeResult(insertedJobs: 0, replacedJobs: 0, unchangedJobs: 3))
            #expect(try store.tableContents() == before)
            #expect(try store.allJobs() == Self.pipeline())
        }
    }

    @Test("a job whose refs changed (only) is replaced, the others are left alone")
    func changedRefsAreNoticed() throws {
        try withStore { store, _ in
            try store.merge(Self.pipeline())
            var changed = Self.pipeline()
            changed[1].outputs[0].version?.modifiedNanoseconds += 1
            changed[2].deletes = ["/p/x"]
            #expect(try store.merge(changed) == MergeResult(insertedJobs: 0, replacedJobs: 2, unchangedJobs: 1))
            #expect(try store.allJobs() == changed)
        }
    }

    @Test("a job merged again with new content replaces its row and its refs")
    func replaceJob() throws {
        try withStore { store, _ in
            try store.merge(Self.pipeline())
            var changed = Self.pipeline()[0]
            changed.job.status = .failed
            changed.job.error = "KeyError: 'x'"
            changed.outputs = [fileRef("/p/other.csv", blake3: digest("other"), inode: 9)]
            try store.merge([changed])

            #expect(try store.job(uid: changed.job.uid) == changed)
            #expect(try store.allJobs().count == 3)
            // The old output's artifact lost its only reference and is gone with its digest.
            #expect(try store.artifacts(digestPrefix: digest("clean")).map(\.producers) == [[]])
            #expect(try store.artifacts(digestPrefix: digest("other")).count == 1)
            // Nothing else refers to "clean" as a write now, so no edge from job 1.
            #expect(try store.edges().isEmpty)
        }
    }

    @Test("an artifact that loses every reference is deleted with its digests")
    func orphanArtifactsAreRemoved() throws {
        try withStore { store, _ in
            let job = RecordedJob(
                job: bareJob("2000000000000001", step: 1), outputs: [fileRef("/a", blake3: digest("a"))])
            try store.merge([job])
            var rewritten = job
            rewritten.outputs = [fileRef("/a", blake3: digest("b"))]
            try store.merge([rewritten])
            #expect(try store.artifacts(digestPrefix: digest("a")).isEmpty)
            #expect(try store.summary().artifactCount == 1)
            #expect(try store.queryUnchecked("SELECT COUNT(*) FROM artifact_hashes") == [["1"]])
        }
    }

    @Test("the same uid twice in one batch: the later one wins")
    func duplicateUIDInOneBatch() throws {
        try withStore { store, _ in
            let first = RecordedJob(
                job: bareJob("3000000000000001", step: 1), outputs: [fileRef("/a", blake3: digest("a"))])
            var second = first
            second.job.command = "second"
            let result = try store.merge([first, second])
            #expect(result == MergeResult(insertedJobs: 1, replacedJobs: 1))
            #expect(try store.allJobs() == [second])
        }
    }

    @Test("equal content at several paths and in several jobs is one artifact")
    func artifactDedupe() throws {
        try withStore { store, _ in
            try store.merge([
                RecordedJob(
                    job: bareJob("4000000000000001", step: 1), outputs: [fileRef("/a", blake3: digest("same"))]),
                RecordedJob(
                    job: bareJob("4000000000000002", step: 2), outputs: [fileRef("/b", blake3: digest("same"))]),
                RecordedJob(job: bareJob("4000000000000003", step: 3), inputs: [fileRef("/c", blake3: digest("same"))]),
                // Same digest string under another algorithm: another artifact.
                RecordedJob(
                    job: bareJob("4000000000000004", step: 4),
                    inputs: [Ref(path: "/d", hashes: ["sha256": digest("same")])]),
            ])
            let artifacts = try store.artifacts(digestPrefix: digest("same"))
            #expect(artifacts.count == 2)
            let blake3 = try #require(artifacts.first { $0.hashes["blake3"] != nil })
            #expect(blake3.paths == ["/a", "/b", "/c"])
            #expect(blake3.producers == ["4000000000000001", "4000000000000002"])
            #expect(blake3.consumers == ["4000000000000003"])
            #expect(blake3.size == 10)
            #expect(blake3.kind == .file)
            #expect(try store.summary().artifactCount == 2)
        }
    }

    @Test("a ref with BLAKE3 and ETag joins the file and the S3 object into one artifact")
    func multiHashRefsJoinArtifacts() throws {
        try withStore { store, _ in
            let local = RecordedJob(
                job: bareJob("5000000000000001", step: 1), outputs: [fileRef("/p/model.bin", blake3: digest("m"))])
            let upload = RecordedJob(
                job: bareJob("5000000000000002", step: 2),
                outputs: [Ref(path: "s3://b/model.bin", kind: .s3, hashes: ["etag": "etag-m"], capture: "boto3")])
            try store.merge([local, upload])
            #expect(try store.summary().artifactCount == 2)

            let both = Ref(
                path: "s3://b/model.bin", kind: .s3, hashes: ["blake3": digest("m"), "etag": "etag-m"], capture: "proxy"
            )
            let reader = RecordedJob(job: bareJob("5000000000000003", step: 3), inputs: [both])
            try store.merge([reader])

            #expect(try store.summary().artifactCount == 1)
            let artifact = try #require(try store.artifacts(digestPrefix: "etag-m").first)
            #expect(artifact.hashes == ["blake3": digest("m"), "etag": "etag-m"])
            #expect(artifact.producers == ["5000000000000001", "5000000000000002"])
            #expect(artifact.consumers == ["5000000000000003"])
            #expect(try store.artifacts(digestPrefix: digest("m")) == [artifact])
            // Each ref still reads back with exactly the hashes it was recorded with.
            #expect(try store.job(uid: local.job.uid) == local)
            #expect(try store.job(uid: upload.job.uid) == upload)
            #expect(try store.job(uid: reader.job.uid) == reader)
            // The reader read the S3 object the upload wrote.
            #expect(
                try store.edges() == [LineageEdge(from: upload.job.uid, to: reader.job.uid, path: "s3://b/model.bin")])
        }
    }

    @Test("a new ref adds its missing digests to the artifact it matches")
    func missingDigestsAreAdded() throws {
        try withStore { store, _ in
            try store.merge([
                RecordedJob(job: bareJob("6000000000000001", step: 1), outputs: [fileRef("/a", blake3: digest("a"))]),
                RecordedJob(
                    job: bareJob("6000000000000002", step: 2),
                    inputs: [Ref(path: "/a", hashes: ["blake3": digest("a"), "sha256": digest("a-sha")])]),
            ])
            let artifact = try #require(try store.artifacts(digestPrefix: digest("a-sha")).first)
            #expect(artifact.hashes == ["blake3": digest("a"), "sha256": digest("a-sha")])
            #expect(try store.summary().artifactCount == 1)
        }
    }

    @Test("a digest that contradicts the matched artifact makes another artifact")
    func contradictingDigests() throws {
        try withStore { store, _ in
            try store.merge([
                RecordedJob(
                    job: bareJob("7000000000000001", step: 1),
                    outputs: [Ref(path: "s3://b/k", kind: .s3, hashes: ["blake3": digest("one"), "etag": "same-etag"])]),
                RecordedJob(
                    job: bareJob("7000000000000002", step: 2),
                    inputs: [Ref(path: "s3://b/k", kind: .s3, hashes: ["blake3": digest("two"), "etag": "same-etag"])]),
            ])
            // BLAKE3 says they differ; the shared ETag does not make them one.
            #expect(try store.summary().artifactCount == 2)
            #expect(try store.artifacts(digestPrefix: digest("two")).map(\.hashes) == [["blake3": digest("two")]])
            #expect(try store.edges().isEmpty)
        }
    }

    @Test("non-identifying keys (s3_version_id \"null\", crc32) do not join unrelated objects")
    func nonIdentifyingHashes() throws {
        try withStore { store, _ in
            try store.merge([
                RecordedJob(
                    job: bareJob("8000000000000001", step: 1),
                    outputs: [
                        Ref(
                            path: "s3://b/one", kind: .s3,
                            hashes: ["etag": "e1", "s3_version_id": "null", "crc32": "abcd"]),
                        Ref(
                            path: "s3://b/two", kind: .s3,
                            hashes: ["etag": "e2", "s3_version_id": "null", "crc32": "abcd"]),
                        Ref(path: "s3://b/three", kind: .s3, hashes: ["s3_version_id": "null"]),
                    ])
            ])
            #expect(try store.summary().artifactCount == 2)
            #expect(try store.artifacts(digestPrefix: "null").isEmpty)
            let job = try #require(try store.job(uid: "8000000000000001"))
            #expect(job.outputs[2].hashes == ["s3_version_id": "null"])
        }
    }

    @Test("merging nothing writes nothing")
    func emptyMerge() throws {
        try withStore { store, _ throws in
            #expect(try store.merge([]) == MergeResult())
            #expect(try store.allJobs().isEmpty)
        }
    }
}
