import Foundation
import RoarCore
import Testing

@testable import RoarStore

@Suite("Queries")
struct QueryTests {
    @Test("steps: 1 for an empty store, then one more than the highest")
    func nextStep() throws {
        try withStore { store, _ in
            #expect(try store.nextStep() == 1)
            try store.merge([RecordedJob(job: bareJob("1000000000000009", step: nil))])
            #expect(try store.nextStep() == 1)
            try store.merge(MergeTests.pipeline())
            #expect(try store.nextStep() == 3)
            #expect(try store.jobs(atStep: 2).map(\.job.uid) == ["1000000000000002", "1000000000000003"])
            #expect(try store.jobs(atStep: 7).isEmpty)
        }
    }

    @Test("uid prefixes match in history order, hex case-insensitively")
    func uidPrefix() throws {
        try withStore { store, _ in
            try store.merge(MergeTests.pipeline())
            #expect(try store.jobs(uidPrefix: "100000000000000").count == 3)
            #expect(try store.jobs(uidPrefix: "1000000000000002").map(\.job.uid) == ["1000000000000002"])
            #expect(try store.jobs(uidPrefix: "2").isEmpty)
            #expect(try store.jobs(uidPrefix: "").count == 3)

            try store.merge([RecordedJob(job: bareJob("abcdef0000000000", step: 9))])
            #expect(try store.jobs(uidPrefix: "ABCDEF").map(\.job.uid) == ["abcdef0000000000"])
        }
    }

    @Test("jobs touching a path, producing or consuming a digest")
    func pathAndDigestLookups() throws {
        try withStore { store, _ in
            try store.merge(MergeTests.pipeline())
            #expect(
                try store.jobs(touchingPath: "/p/clean.csv").map(\.job.uid) == ["1000000000000001", "1000000000000002"])
            #expect(try store.jobs(touchingPath: "/p/clean").isEmpty)
            #expect(try store.jobs(touchingPath: "/p/unhashed.log").map(\.job.uid) == ["1000000000000003"])

            let clean = String(digest("clean").prefix(12))
            #expect(try store.jobs(producingDigestPrefix: clean).map(\.job.uid) == ["1000000000000001"])
            #expect(try store.jobs(consumingDigestPrefix: clean.uppercased()).map(\.job.uid) == ["1000000000000002"])
            #expect(try store.jobs(producingDigestPrefix: "e-model").map(\.job.uid) == ["1000000000000002"])
            #expect(try store.jobs(consumingDigestPrefix: "e-model").isEmpty)
            // The found jobs come with all their refs.
            let producer = try #require(try store.jobs(producingDigestPrefix: clean).first)
            #expect(producer == MergeTests.pipeline()[0])
        }
    }

    @Test("digest prefixes are answered from the index")
    func digestPrefixUsesIndex() throws {
        try withStore { store, _ in
            let plan = try store.queryUnchecked(
                "EXPLAIN QUERY PLAN SELECT artifact_id FROM artifact_hashes WHERE digest >= 'ab' AND digest < 'ab\u{10FFFF}'"
            )
            #expect(plan.contains { $0.joined().contains("artifact_hashes_digest") })
            let uidPlan = try store.queryUnchecked(
                "EXPLAIN QUERY PLAN SELECT id FROM jobs WHERE uid >= 'ab' AND uid < 'ac'")
            #expect(
                uidPlan.contains { $0.joined().contains("USING COVERING INDEX") || $0.joined().contains("USING INDEX") }
            )
        }
    }

    @Test("summary counts jobs, artifacts, steps, unhashed reads and coverage")
    func summary() throws {
        try withStore { store, _ in
            #expect(try store.summary() == StoreSummary())
            try store.merge(MergeTests.pipeline())
            let summary = try store.summary()
            #expect(summary.jobCount == 3)
            #expect(summary.jobsByStatus == [.ok: 2, .killed: 1])
            #expect(summary.jobsByRole == [.run: 2, .task: 1])
            #expect(summary.artifactCount == 4)  // raw, clean, model (file), model (s3 etag)
            #expect(summary.stepCount == 2)
            #expect(summary.lastStep == 2)
            #expect(summary.lastStartedAt == 1_800_000_000)
            #expect(summary.lastFinishedAt == fullJob().startedAt + 12.25)
            #expect(summary.unhashedReadCount == 1)
            #expect(summary.coverage == ["static-exec": 2, "lost": 7])
        }
    }

    @Test("one session per project, created on first use and kept")
    func session() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let first = try RoarStore(path: directory.databasePath).currentSession()
        #expect(first.uid.count == 16)
        #expect(first.uid.allSatisfy { $0.isHexDigit })
        let again = try RoarStore(path: directory.databasePath)
        #expect(try again.currentSession() == first)
        try again.merge(MergeTests.pipeline())
        #expect(try again.queryUnchecked("SELECT DISTINCT session_id FROM jobs") == [["1"]])
    }
}

@Suite("Hash cache")
struct HashCacheTests {
    @Test("a digest is found for exactly the file version it was recorded for")
    func hitsAndMisses() throws {
        try withStore { store, _ in
            let version = FileVersion(
                device: .max, inode: 1 << 63, size: 4096, modifiedNanoseconds: 1_700_000_000_123_456_789)
            #expect(try store.cachedDigest(for: version, algorithm: "blake3") == nil)
            try store.cacheDigest(digest("v1"), for: version, algorithm: "blake3")
            #expect(try store.cachedDigest(for: version, algorithm: "blake3") == digest("v1"))
            #expect(try store.cachedDigest(for: version, algorithm: "sha256") == nil)

            var touched = version
            touched.modifiedNanoseconds += 1
            #expect(try store.cachedDigest(for: touched, algorithm: "blake3") == nil)
            var grown = version
            grown.size += 1
            #expect(try store.cachedDigest(for: grown, algorithm: "blake3") == nil)
            var otherInode = version
            otherInode.inode = 2
            #expect(try store.cachedDigest(for: otherInode, algorithm: "blake3") == nil)

            try store.cacheDigest(digest("v1-again"), for: version, algorithm: "blake3")
            #expect(try store.cachedDigest(for: version, algorithm: "blake3") == digest("v1-again"))

            try store.cacheDigests([(touched, "blake3", digest("t")), (grown, "sha256", digest("g"))])
            #expect(try store.cachedDigest(for: touched, algorithm: "blake3") == digest("t"))
            #expect(try store.cachedDigest(for: grown, algorithm: "sha256") == digest("g"))
        }
    }
}
