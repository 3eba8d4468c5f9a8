import Foundation
import RoarHash
import Testing

@testable import RoarCore
@testable import RoarReconstitute
@testable import RoarStore

/// Datasets found after assembly (`CompositePlanner`), with real files in a temporary folder and a
/// real store: who gets the composite, its digest, and the edges a later run's reads make.
@Suite("Composite datasets")
struct CompositePlannerTests {
    /// A project folder with a dataset folder `out/`, removed at the end.
    final class Scratch {
        let root: String
        var out: String { root + "/out" }

        init() throws {
            root = FileManager.default.temporaryDirectory.appendingPathComponent("roar-composites-\(UUID())").path
            try FileManager.default.createDirectory(atPath: root + "/out", withIntermediateDirectories: true)
        }

        deinit { try? FileManager.default.removeItem(atPath: root) }

        /// Writes `text` at `path` and returns the ref a write of it records.
        func write(_ path: String, _ text: String) throws -> Ref {
            let parent = (path as NSString).deletingLastPathComponent
            try FileManager.default.createDirectory(atPath: parent, withIntermediateDirectories: true)
            try Data(text.utf8).write(to: URL(filePath: path))
            return try #require(ref(path, text))
        }

        /// The ref of a read (or write) of `path` holding `text`, at its version on disk.
        func ref(_ path: String, _ text: String) -> Ref? {
            guard let version = FileSystem.version(ofFileAt: path) else { return nil }
            return Ref(
                path: path, kind: .file, hashes: ["blake3": Self.blake3(text)], size: Int64(text.utf8.count),
                capture: "native", version: version)
        }

        static func blake3(_ text: String) -> String {
            var hasher = BLAKE3Hasher()
            Array(text.utf8).withUnsafeBytes { hasher.update(bufferPointer: $0) }
            return hasher.finalize().hex
        }
    }

    static func job(_ uid: String, _ role: Job.Role = .task, step: Int = 1) -> Job {
        Job(
            uid: uid, step: step, role: role, command: uid, startedAt: 1_700_000_000 + Double(step), status: .ok,
            parentUID: role == .task ? "root" : nil)
    }

    static func plan(_ jobs: [RecordedJob], store: RoarStore) throws -> CompositePlanner.Result {
        try CompositePlanner(recorded: { paths throws(StoreError) in try store.writtenComposites(atPaths: paths) })
            .plan(jobs)
    }

    static func withStore<T>(_ body: (RoarStore, Scratch) throws -> T) throws -> T {
        let scratch = try Scratch()
        let store = try RoarStore(path: scratch.root + "/roar.db")
        return try body(store, scratch)
    }

    /// Run A: three tasks each write one part of `out/`.
    static func writeDataset(_ scratch: Scratch, run: String = "a") throws -> [RecordedJob] {
        var jobs = [RecordedJob(job: job("\(run)-root", .run, step: 0))]
        for index in 0..<3 {
            let part = try scratch.write(scratch.out + "/part-\(index).parquet", "\(run) part \(index)")
            jobs.append(RecordedJob(job: job("\(run)-w\(index)"), outputs: [part]))
        }
        return jobs
    }

    @Test func partsWrittenByThreeTasksAreOneCompositeOutputOfEach() throws {
        try Self.withStore { store, scratch in
            let result = try Self.plan(Self.writeDataset(scratch), store: store)
            let expected = Composite(
                path: scratch.out,
                components: (0..<3).map { index in
                    CompositeComponent(
                        name: "part-\(index).parquet", algorithm: "blake3", digest: Scratch.blake3("a part \(index)"),
                        size: 8)
                })
            #expect(result.jobs[0].outputs.isEmpty)  // the root wrote no part
            for writer in result.jobs.dropFirst() {
                let composites = writer.outputs.filter { $0.kind == .composite }
                #expect(composites == [expected.ref])
            }
            #expect(expected.ref.hashes[Composite.algorithm] == Composite.digest(of: expected.components))
            #expect(result.warnings.isEmpty)
        }
    }

    @Test func aLaterRunThatReadsEveryPartGetsEdgesFromTheWriters() throws {
        try Self.withStore { store, scratch in
            let first = try Self.plan(Self.writeDataset(scratch), store: store).jobs
            try store.merge(first)
            // Run B: two read tasks share the parts between them; the run as a whole read the dataset.
            let parts = (0..<3).map { scratch.ref(scratch.out + "/part-\($0).parquet", "a part \($0)")! }
            let second = try Self.plan(
                [
                    RecordedJob(job: Self.job("b-root", .run, step: 4)),
                    RecordedJob(job: Self.job("b-r0", step: 5), inputs: [parts[0], parts[1]]),
                    RecordedJob(job: Self.job("b-r1", step: 5), inputs: [parts[2]]),
                ], store: store
            ).jobs
            let composite = try #require(first[1].outputs.first { $0.kind == .composite })
            #expect(second[0].inputs == [composite])
            #expect(second[1].inputs.allSatisfy { $0.kind == .file })  // read only two of three
            try store.merge(second)
            let edges = try store.edges()
            let intoRoot = Set(edges.filter { $0.to == "b-root" && $0.path == scratch.out }.map(\.from))
            #expect(intoRoot == ["a-w0", "a-w1", "a-w2"])
            // A reader of one part: the edge to that part's writer only.
            #expect(edges.filter { $0.to == "b-r1" }.map(\.from) == ["a-w2"])
            // The store gives the parts back with the ref.
            let stored = try #require(try store.job(uid: "a-w0")?.outputs.first { $0.kind == .composite })
            #expect(stored == composite)
        }
    }

    @Test func oneTaskThatReadsEveryPartGetsTheCompositeItself() throws {
        try Self.withStore { store, scratch in
            try store.merge(Self.plan(Self.writeDataset(scratch), store: store).jobs)
            let parts = (0..<3).map { scratch.ref(scratch.out + "/part-\($0).parquet", "a part \($0)")! }
            let jobs = try Self.plan(
                [
                    RecordedJob(job: Self.job("b-root", .run, step: 4)),
                    RecordedJob(job: Self.job("b-r", step: 5), inputs: parts),
                ],
                store: store
            ).jobs
            #expect(jobs[1].inputs.filter { $0.kind == .composite }.count == 1)
            #expect(jobs[0].inputs.filter { $0.kind == .composite }.count == 1)
        }
    }

    @Test func aReadOfAnOlderVersionIsNotTheNewDataset() throws {
        try Self.withStore { store, scratch in
            try store.merge(Self.plan(Self.writeDataset(scratch, run: "a"), store: store).jobs)
            let old = (0..<3).map { scratch.ref(scratch.out + "/part-\($0).parquet", "a part \($0)")! }
            try store.merge(Self.plan(Self.writeDataset(scratch, run: "b"), store: store).jobs)
            // Reads that saw run a's bytes get run a's composite, not b's.
            let jobs = try Self.plan([RecordedJob(job: Self.job("c-root", .run, step: 9), inputs: old)], store: store)
                .jobs
            let read = try #require(jobs[0].inputs.first { $0.kind == .composite })
            let written = try #require(try store.job(uid: "a-w0")?.outputs.first { $0.kind == .composite })
            #expect(read == written)
        }
    }

    @Test func aFolderHoldingAFileTheRunDidNotWriteIsNoDataset() throws {
        try Self.withStore { store, scratch in
            _ = try scratch.write(scratch.out + "/README", "not a part")
            let result = try Self.plan(Self.writeDataset(scratch), store: store)
            #expect(result.jobs.allSatisfy { $0.outputs.allSatisfy { $0.kind == .file } })
        }
    }

    @Test func aWorkFolderOfMixedFilesIsNoDataset() throws {
        try Self.withStore { store, scratch in
            let csv = try scratch.write(scratch.out + "/clean-0.csv", "a")
            let json = try scratch.write(scratch.out + "/stats.json", "{}")
            let result = try Self.plan(
                [
                    RecordedJob(job: Self.job("root", .run, step: 0)),
                    RecordedJob(job: Self.job("w"), outputs: [csv, json]),
                ],
                store: store)
            #expect(result.jobs.allSatisfy { $0.outputs.allSatisfy { $0.kind == .file } })
        }
    }

    @Test(
        "parts are named alike",
        arguments: [
            (["part-0.parquet", "part-1.parquet"], true),
            (["0358Qa_b97801_000000-0.parquet", "0358Qa_b97801_000001-0.parquet"], true),
            (["part-00000-1f2e.snappy.parquet", "part-00001-9c0d.snappy.parquet"], true),
            (["000.tfrecord", "001.tfrecord"], true),
            (["year=2024/part-0.parquet", "year=2025/part-0.parquet"], true),
            (["in-0.txt", "mid-0.txt", "out.txt"], false),
            (["clean-0.csv", "stats.json"], false),
            (["train.parquet", "test.parquet"], false),
        ] as [([String], Bool)])
    func namedAlike(_ names: [String], _ expected: Bool) {
        #expect(CompositePlanner.areOneKind(names) == expected)
    }

    @Test func bookkeepingFilesAreNeitherPartsNorObstacles() throws {
        try Self.withStore { store, scratch in
            _ = try scratch.write(scratch.out + "/_SUCCESS", "")  // not written by the run: ignored all the same
            let jobs = try Self.writeDataset(scratch)
            let composite = try #require(Self.plan(jobs, store: store).jobs[1].outputs.first { $0.kind == .composite })
            #expect(composite.components?.map(\.name) == ["part-0.parquet", "part-1.parquet", "part-2.parquet"])
        }
    }

    @Test func aPartChangedSinceItWasWrittenIsNoDataset() throws {
        try Self.withStore { store, scratch in
            let jobs = try Self.writeDataset(scratch)
            try Data("changed since".utf8).write(to: URL(filePath: scratch.out + "/part-1.parquet"))
            let result = try Self.plan(jobs, store: store)
            #expect(result.jobs.allSatisfy { $0.outputs.allSatisfy { $0.kind == .file } })
        }
    }

    @Test func partitionFoldersBelongToTheDataset() throws {
        try Self.withStore { store, scratch in
            let a = try scratch.write(scratch.out + "/year=2024/part-0.parquet", "x")
            let b = try scratch.write(scratch.out + "/year=2025/part-0.parquet", "y")
            let result = try Self.plan(
                [RecordedJob(job: Self.job("root", .run, step: 0)), RecordedJob(job: Self.job("w"), outputs: [a, b])],
                store: store)
            let composite = try #require(result.jobs[1].outputs.first { $0.kind == .composite })
            #expect(composite.path == scratch.out)
            #expect(composite.components?.map(\.name) == ["year=2024/part-0.parquet", "year=2025/part-0.parquet"])
        }
    }

    @Test func planningTheSameJobsAgainMergesNothingNew() throws {
        try Self.withStore { store, scratch in
            let jobs = try Self.writeDataset(scratch)
            try store.merge(Self.plan(jobs, store: store).jobs)
            let again = try store.merge(Self.plan(jobs, store: store).jobs)
            #expect(again.unchangedJobs == jobs.count && again.insertedJobs == 0 && again.replacedJobs == 0)
        }
    }

    @Test func anS3PrefixIsADatasetOfTheObjectsTheRunWroteAndKept() throws {
        try Self.withStore { store, _ in
            func object(_ key: String, _ etag: String) -> Ref {
                Ref(path: "s3://bucket/ds/" + key, kind: .s3, hashes: ["etag": etag], size: 4, capture: "boto3")
            }
            let jobs = [
                RecordedJob(job: Self.job("root", .run, step: 0)),
                RecordedJob(job: Self.job("w0"), outputs: [object("part-0.csv", "e1"), object("part-9.csv", "e9")]),
                RecordedJob(
                    job: Self.job("w1"), outputs: [object("part-1.csv", "e2")], deletes: ["s3://bucket/ds/part-9.csv"]),
            ]
            let result = try Self.plan(jobs, store: store)
            let composite = try #require(result.jobs[1].outputs.first { $0.kind == .composite })
            #expect(composite.path == "s3://bucket/ds")
            #expect(composite.components?.map(\.name) == ["part-0.csv", "part-1.csv"])
            #expect(composite.components?.map(\.algorithm) == ["etag", "etag"])
            #expect(result.jobs[2].outputs.contains(composite))
        }
    }
}
