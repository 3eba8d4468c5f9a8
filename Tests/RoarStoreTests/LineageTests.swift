import Foundation
import RoarCore
import Testing

@testable import RoarStore

@Suite("Lineage edges")
struct LineageTests {
    @Test("a read of what another job wrote is an edge")
    func basicEdge() throws {
        try withStore { store, _ in
            try store.merge(MergeTests.pipeline())
            #expect(
                try store.edges() == [
                    LineageEdge(from: "1000000000000001", to: "1000000000000002", path: "/p/clean.csv")
                ])
        }
    }

    @Test("two writes of equal bytes (empty files): the reader is linked to the version it saw")
    func equalBytesDifferentVersions() throws {
        try withStore { store, _ in
            let empty = digest("empty")
            try store.merge([
                // A writes an empty file; later B truncates and rewrites it, empty again: new mtime.
                RecordedJob(
                    job: bareJob("a000000000000001", step: 1),
                    outputs: [fileRef("/p/flag", blake3: empty, inode: 3, mtime: 100, size: 0)]),
                RecordedJob(
                    job: bareJob("a000000000000002", step: 2),
                    outputs: [fileRef("/p/flag", blake3: empty, inode: 3, mtime: 200, size: 0)]),
                // C read B's version.
                RecordedJob(
                    job: bareJob("a000000000000003", step: 3),
                    inputs: [fileRef("/p/flag", blake3: empty, inode: 3, mtime: 200, size: 0)]),
                // D wrote an empty file elsewhere: equal bytes, other path.
                RecordedJob(
                    job: bareJob("a000000000000004", step: 3),
                    outputs: [fileRef("/p/other-flag", blake3: empty, inode: 4, mtime: 150, size: 0)]),
            ])
            #expect(
                try store.edges() == [LineageEdge(from: "a000000000000002", to: "a000000000000003", path: "/p/flag")])
        }
    }

    @Test("an unhashed read is linked by its file version alone")
    func unhashedReads() throws {
        try withStore { store, _ in
            try store.merge([
                RecordedJob(
                    job: bareJob("b000000000000001", step: 1),
                    outputs: [fileRef("/p/log", blake3: digest("log"), inode: 9, mtime: 100)]),
                // Saw the version A wrote, but the file changed before it could be hashed.
                RecordedJob(
                    job: bareJob("b000000000000002", step: 2),
                    inputs: [fileRef("/p/log", blake3: nil, inode: 9, mtime: 100)]
                ),
                // Saw another version.
                RecordedJob(
                    job: bareJob("b000000000000003", step: 2),
                    inputs: [fileRef("/p/log", blake3: nil, inode: 9, mtime: 300)]
                ),
                // Neither digest nor version: nothing to match on.
                RecordedJob(job: bareJob("b000000000000004", step: 2), inputs: [Ref(path: "/p/log")]),
            ])
            #expect(
                try store.edges() == [LineageEdge(from: "b000000000000001", to: "b000000000000002", path: "/p/log")])
            #expect(try store.summary().unhashedReadCount == 3)
        }
    }

    @Test("an unhashed write is linked to reads of the same version")
    func unhashedWrite() throws {
        try withStore { store, _ in
            try store.merge([
                RecordedJob(
                    job: bareJob("c000000000000001", step: 1),
                    outputs: [fileRef("/p/x", blake3: nil, inode: 2, mtime: 5)]),
                RecordedJob(
                    job: bareJob("c000000000000002", step: 2),
                    inputs: [fileRef("/p/x", blake3: digest("x"), inode: 2, mtime: 5)]),
            ])
            #expect(try store.edges() == [LineageEdge(from: "c000000000000001", to: "c000000000000002", path: "/p/x")])
        }
    }

    @Test("different content at the same path is no edge; a job reading its own write is no edge")
    func noFalseEdges() throws {
        try withStore { store, _ in
            try store.merge([
                RecordedJob(
                    job: bareJob("d000000000000001", step: 1),
                    inputs: [fileRef("/p/self", blake3: digest("s"))],
                    outputs: [fileRef("/p/self", blake3: digest("s")), fileRef("/p/f", blake3: digest("v1"))]),
                RecordedJob(job: bareJob("d000000000000002", step: 2), inputs: [fileRef("/p/f", blake3: digest("v2"))]),
            ])
            #expect(try store.edges().isEmpty)
        }
    }

    @Test("S3 objects (no file version) are matched by content")
    func s3Edges() throws {
        try withStore { store, _ in
            let object = Ref(
                path: "s3://bucket/data/part-0.parquet", kind: .s3, hashes: ["etag": "abc-2"], capture: "boto3")
            try store.merge([
                RecordedJob(job: bareJob("e000000000000001", step: 1), outputs: [object]),
                RecordedJob(job: bareJob("e000000000000002", step: 2), inputs: [object]),
                RecordedJob(job: bareJob("e000000000000003", step: 2), inputs: [object, object]),
            ])
            #expect(
                try store.edges() == [
                    LineageEdge(from: "e000000000000001", to: "e000000000000002", path: object.path),
                    LineageEdge(from: "e000000000000001", to: "e000000000000003", path: object.path),
                ])
        }
    }

    @Test("a read matching a write by several rows yields one edge")
    func edgesAreDistinct() throws {
        try withStore { store, _ in
            try store.merge([
                RecordedJob(
                    job: bareJob("f000000000000001", step: 1),
                    outputs: [fileRef("/p/a", blake3: digest("a"), mtime: 1), fileRef("/p/a", blake3: nil, mtime: 1)]),
                RecordedJob(
                    job: bareJob("f000000000000002", step: 2),
                    inputs: [fileRef("/p/a", blake3: digest("a"), mtime: 1), fileRef("/p/a", blake3: nil, mtime: 1)]),
            ])
            #expect(try store.edges() == [LineageEdge(from: "f000000000000001", to: "f000000000000002", path: "/p/a")])
        }
    }
}

/// `RoarStore.edges()` is `VersionMatch.isRead(_:ofVersionWrittenBy:)` in SQL: the two must agree.
@Suite("Lineage edges agree with VersionMatch")
struct VersionMatchAgreementTests {
    static let version = FileVersion(device: 42, inode: 7, size: 10, modifiedNanoseconds: 1_000)
    static let other = FileVersion(device: 42, inode: 7, size: 10, modifiedNanoseconds: 2_000)

    static func ref(
        _ path: String = "/p/x", _ hashes: [String: String] = [:], _ version: FileVersion? = nil
    ) -> Ref {
        Ref(path: path, kind: version == nil ? .s3 : .file, hashes: hashes, size: 10, version: version)
    }

    static let cases: [(name: String, write: Ref, read: Ref)] = {
        let a = ["blake3": digest("a")]
        let b = ["blake3": digest("b")]
        return [
            ("same version, same digest", ref("/p/x", a, version), ref("/p/x", a, version)),
            ("same version, unhashed read", ref("/p/x", a, version), ref("/p/x", [:], version)),
            ("same version, unhashed write", ref("/p/x", [:], version), ref("/p/x", a, version)),
            ("same version, other digest", ref("/p/x", a, version), ref("/p/x", b, version)),
            ("other version, same digest", ref("/p/x", a, version), ref("/p/x", a, other)),
            ("other version, unhashed read", ref("/p/x", a, version), ref("/p/x", [:], other)),
            ("no versions, same etag", ref("s3://b/k", ["etag": "e1"]), ref("s3://b/k", ["etag": "e1"])),
            ("no versions, other etag", ref("s3://b/k", ["etag": "e1"]), ref("s3://b/k", ["etag": "e2"])),
            (
                "no versions, same etag, other object version",
                ref("s3://b/k", ["etag": "e1", "s3_version_id": "v1"]),
                ref("s3://b/k", ["etag": "e1", "s3_version_id": "v2"])
            ),
            ("no versions, unhashed read", ref("s3://b/k", ["etag": "e1"]), ref("s3://b/k")),
            ("nothing to compare", ref("s3://b/k"), ref("s3://b/k")),
            ("write without version, same digest", ref("/p/x", a), ref("/p/x", a, version)),
            ("other path", ref("/p/x", a, version), ref("/p/y", a, version)),
        ]
    }()

    @Test(arguments: cases.indices)
    func storeAndSwiftAgree(index: Int) throws {
        let (name, write, read) = Self.cases[index]
        try withStore { store, _ in
            try store.merge([
                RecordedJob(job: bareJob("b000000000000001", step: 1), outputs: [write]),
                RecordedJob(job: bareJob("b000000000000002", step: 2), inputs: [read]),
            ])
            let linked = !(try store.edges()).isEmpty
            #expect(linked == VersionMatch.isRead(read, ofVersionWrittenBy: write), "\(name)")
        }
    }

    @Test func theTableCoversBothAnswers() {
        let answers = Set(Self.cases.map { VersionMatch.isRead($0.read, ofVersionWrittenBy: $0.write) })
        #expect(answers == [true, false])
    }
}
