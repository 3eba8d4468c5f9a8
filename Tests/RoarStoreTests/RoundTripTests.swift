import Foundation
import RoarCore
import Testing

@testable import RoarStore

@Suite("Round trip")
struct RoundTripTests {
    @Test("every Job and Ref field comes back exactly")
    func everyField() throws {
        try withStore { store, _ in
            let recorded = RecordedJob(
                job: fullJob(),
                inputs: [
                    Ref(
                        path: "/data/in.csv", kind: .file,
                        hashes: ["blake3": digest("in"), "sha256": digest("in-sha")], size: 1234, capture: "native",
                        version: FileVersion(
                            device: .max, inode: UInt64(Int64.max) + 7, size: 1234,
                            modifiedNanoseconds: -1_000_000_001)),
                    Ref(
                        path: "s3://bucket/key.parquet", kind: .s3,
                        hashes: ["etag": "9b2cf535f27731c974343645a3985328-3", "s3_version_id": "null"],
                        size: nil, capture: "boto3"),
                    Ref(path: "/data/changing.log", hashes: [:], size: nil, capture: nil, version: nil),
                ],
                outputs: [
                    Ref(
                        path: "/tmp/ray/session/out-0.parquet", kind: .file, hashes: ["blake3": digest("part")],
                        size: .max, capture: "python",
                        version: FileVersion(device: 0, inode: 0, size: 0, modifiedNanoseconds: .max),
                        isClusterOnly: true),
                    Ref(path: "/data/old", kind: .composite, hashes: ["blake3": digest("merkle")], size: 99),
                    Composite(
                        path: "/data/out",
                        components: [
                            CompositeComponent(
                                name: "part-1.parquet", algorithm: "blake3", digest: digest("p1"), size: 5),
                            CompositeComponent(name: "part-0.parquet", algorithm: "etag", digest: "e0", size: nil),
                        ]
                    ).ref,
                ],
                deletes: ["/data/tmp-1", "/data/tmp-0"])
            let bare = RecordedJob(job: bareJob("aaaaaaaaaaaaaaaa", step: nil))
            try store.merge([recorded, bare])

            #expect(try store.job(uid: recorded.job.uid) == recorded)
            #expect(try store.job(uid: bare.job.uid) == bare)
            #expect(try store.job(uid: "ffffffffffffffff") == nil)
            // Jobs without a step sort last.
            #expect(try store.allJobs() == [recorded, bare])
        }
    }

    @Test("ray identity with empty fields, git without branch, job without optional fields")
    func partialNestedValues() throws {
        try withStore { store, _ in
            var job = bareJob("bbbbbbbbbbbbbbbb", step: 1)
            job.git = GitState(commit: "abc", branch: nil, isDirty: false)
            job.ray = RayIdentity(taskID: "", attempt: 0, function: "")
            job.durationSeconds = 0
            job.exitCode = 0
            let recorded = RecordedJob(job: job)
            try store.merge([recorded])
            #expect(try store.job(uid: job.uid) == recorded)
        }
    }

    @Test(
        "unusual paths round-trip byte for byte",
        arguments: [
            "/data/line one\nline two.txt",
            "/data/tab\there\r.txt",
            "/data/ünïcödé/naïve café.csv",  // precomposed (NFC)
            "/data/u\u{308}ni\u{308}co\u{308}de\u{301}/cafe\u{301}.csv",  // decomposed (NFD)
            "/data/replacement\u{FFFD}char",
            "/data/latin1-caf\\xe9.csv",  // how RoarCore spells a non-UTF-8 byte

            "/data/'quote\"s and \\backslash",
            "/data/emoji 🦁 and\u{0001}control",
            "s3://bucket/key with spaces/%2F/?x=1",
        ])
    func unusualPaths(path: String) throws {
        try withStore { store, _ in
            let recorded = RecordedJob(
                job: bareJob("cccccccccccccccc", step: 1),
                inputs: [fileRef(path, blake3: digest("x"))],
                outputs: [fileRef(path + ".out", blake3: nil)],
                deletes: [path])
            try store.merge([recorded])
            let back = try #require(try store.job(uid: recorded.job.uid))
            // Swift's == treats NFC and NFD as equal; compare the bytes.
            #expect(Array(back.inputs[0].path.utf8) == Array(path.utf8))
            #expect(Array(back.outputs[0].path.utf8) == Array((path + ".out").utf8))
            #expect(Array(back.deletes[0].utf8) == Array(path.utf8))
            #expect(try store.jobs(touchingPath: path).map(\.job.uid) == [recorded.job.uid])
        }
    }

    @Test("NFC and NFD spellings of one name are two paths, as on Linux")
    func normalizationFormsStayDistinct() throws {
        try withStore { store, _ in
            let composed = "/data/caf\u{E9}.csv"
            let decomposed = "/data/cafe\u{301}.csv"
            try store.merge([
                RecordedJob(
                    job: bareJob("1111111111111111", step: 1), outputs: [fileRef(composed, blake3: digest("a"))]),
                RecordedJob(
                    job: bareJob("2222222222222222", step: 2), inputs: [fileRef(decomposed, blake3: digest("a"))]),
            ])
            #expect(try store.jobs(touchingPath: composed).map(\.job.uid) == ["1111111111111111"])
            #expect(try store.jobs(touchingPath: decomposed).map(\.job.uid) == ["2222222222222222"])
            #expect(try store.edges().isEmpty)
        }
    }

    @Test("refs repeated within one job are stored once; distinct contents at one path are kept")
    func repeatedRefs() throws {
        try withStore { store, _ in
            let first = fileRef("/data/a", blake3: digest("a"), mtime: 1)
            let again = fileRef("/data/a", blake3: digest("a"), mtime: 2)  // same content: dropped
            let changed = fileRef("/data/a", blake3: digest("b"), mtime: 3)  // new content: kept
            let unhashed = fileRef("/data/a", blake3: nil, mtime: 4)
            let unhashedAgain = fileRef("/data/a", blake3: nil, mtime: 5)
            try store.merge([
                RecordedJob(
                    job: bareJob("dddddddddddddddd", step: 1),
                    inputs: [first, again, changed, unhashed, unhashedAgain],
                    deletes: ["/x", "/x"])
            ])
            let back = try #require(try store.job(uid: "dddddddddddddddd"))
            #expect(back.inputs == [first, changed, unhashed])
            #expect(back.deletes == ["/x"])
        }
    }
}
