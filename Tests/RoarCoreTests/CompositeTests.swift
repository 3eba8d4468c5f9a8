import Foundation
import RoarCore
import Testing

/// `Composite` against the shared vectors (`Tests/vectors/composites/digests.json`, computed from
/// `docs/composites.md` with `b3sum`; `python/tests/test_shared_vectors.py` checks the formula too).
@Suite("Composites")
struct CompositeTests {
    struct Vectors: Decodable {
        var cases: [Case]

        struct Case: Decodable {
            var `case`: String
            var components: [CompositeComponent]
            var digest: String
            var sortedNames: [String]

            enum CodingKeys: String, CodingKey {
                case `case`, components, digest
                case sortedNames = "sorted_names"
            }
        }
    }

    static let vectors: [Vectors.Case] = {
        let url = URL(filePath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appending(path: "vectors/composites/digests.json")
        // swift-format-ignore: NeverForceUnwrap
        return try! JSONDecoder().decode(Vectors.self, from: Data(contentsOf: url)).cases
    }()

    @Test("digest and order of each vector", arguments: vectors.map(\.case))
    func vector(_ name: String) throws {
        let vector = try #require(Self.vectors.first { $0.case == name })
        let composite = Composite(path: "/data/ds", components: vector.components)
        #expect(composite.digest == vector.digest)
        #expect(composite.components.map(\.name) == vector.sortedNames)
        #expect(Composite.digest(of: composite.components) == vector.digest)
    }

    @Test func stableUnderTheOrderPartsFinishedIn() throws {
        let first = try #require(Self.vectors.first { $0.case == "two parquet parts" })
        let reordered = try #require(Self.vectors.first { $0.case == "the same parts listed in the other order" })
        let renamed = try #require(Self.vectors.first { $0.case == "a part renamed" })
        #expect(first.digest == reordered.digest)
        #expect(first.digest != renamed.digest)
    }

    @Test func refCarriesTheRootThePartsAndTheirSize() {
        let composite = Composite(
            path: "/p/out",
            components: [
                CompositeComponent(name: "b", algorithm: "blake3", digest: "bb", size: 2),
                CompositeComponent(name: "a", algorithm: "blake3", digest: "aa", size: 3),
            ])
        let ref = composite.ref
        #expect(ref.kind == .composite && ref.path == "/p/out")
        #expect(ref.hashes == [Composite.algorithm: composite.digest])
        #expect(ref.size == 5)
        #expect(ref.components?.map(\.name) == ["a", "b"])
        #expect(ref.primaryHash?.algorithm == Composite.algorithm)
    }

    @Test(
        "the dataset folder of a part",
        arguments: [
            ("/p/out/part-0.parquet", "/p/out"),
            ("/p/out/year=2024/month=1/part-0.parquet", "/p/out"),
            ("/p/out/a/part-0.parquet", "/p/out/a"),
            ("s3://bucket/ds/part-0.parquet", "s3://bucket/ds"),
            ("s3://bucket/ds/k=v/part-0.parquet", "s3://bucket/ds"),
            ("s3://bucket/part-0.parquet", nil),
            ("/part-0.parquet", nil),
            ("/k=v/part", "/k=v"),
        ] as [(String, String?)])
    func folder(_ path: String, _ expected: String?) {
        #expect(Composite.folder(ofPart: path) == expected)
    }

    @Test func partNamesAreRelativeToTheFolder() {
        #expect(Composite.name(ofPart: "/p/out/year=1/x", in: "/p/out") == "year=1/x")
        #expect(Composite.name(ofPart: "/p/outer/x", in: "/p/out") == nil)
        #expect(Composite.name(ofPart: "/p/out/", in: "/p/out") == nil)
    }

    @Test func componentOfARefPrefersBLAKE3ThenETag() {
        let both = Ref(path: "s3://b/ds/a", kind: .s3, hashes: ["etag": "e", "blake3": "f"], size: 1)
        #expect(CompositeComponent(name: "a", ref: both)?.algorithm == "blake3")
        let etagOnly = Ref(path: "s3://b/ds/a", kind: .s3, hashes: ["etag": "e", "s3_version_id": "v"])
        #expect(CompositeComponent(name: "a", ref: etagOnly)?.digest == "e")
        #expect(CompositeComponent(name: "a", ref: Ref(path: "/x/a")) == nil)
    }
}
