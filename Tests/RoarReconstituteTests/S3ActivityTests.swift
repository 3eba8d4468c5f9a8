import Testing

@testable import RoarCore
@testable import RoarReconstitute

@Suite("S3 operations folded into a job's refs")
struct S3ActivityTests {
    static func event(_ json: String) throws -> S3Event {
        guard case .operation(let event) = try #require(try S3Record.decode(json: json)) else {
            Issue.record("not an s3 operation: \(json)")
            throw CancellationError()
        }
        return event
    }

    @Test func rangedReadsThatCoverTheObjectAreOneWholeRead() throws {
        let reads = try [
            #"{"event":"s3","v":1,"op":"head","url":"s3://b/k","etag":"\"e1-3\"","size":10}"#,
            #"{"event":"s3","v":1,"op":"read","url":"s3://b/k","etag":"\"e1-3\"","byte_ranges":[[5,10]],"size":10}"#,
            #"{"event":"s3","v":1,"op":"read","url":"s3://b/k","etag":"\"e1-3\"","byte_ranges":[[0,5]],"size":10}"#,
        ].map(Self.event)
        let activity = S3Activity(events: reads, contentDigests: [:])
        #expect(activity.inputs.count == 1)
        #expect(activity.inputs[0].hashes == ["etag": "e1-3"])
        #expect(activity.inputs[0].byteRanges == nil)
        #expect(activity.inputs[0].kind == .s3)
    }

    @Test func aPartialReadKeepsItsRangesAndAHeadAloneIsMetadata() throws {
        let events = try [
            #"{"event":"s3","v":1,"op":"read","url":"s3://b/part","etag":"\"p\"","byte_ranges":[[0,3]],"size":20}"#,
            #"{"event":"s3","v":1,"op":"read","url":"s3://b/part","etag":"\"p\"","byte_ranges":[[2,6]],"size":20}"#,
            #"{"event":"s3","v":1,"op":"head","url":"s3://b/meta","etag":"\"m\"","size":4}"#,
        ].map(Self.event)
        let activity = S3Activity(events: events, contentDigests: [:])
        #expect(activity.inputs.map(\.path) == ["s3://b/part", "s3://b/meta"])
        #expect(activity.inputs[0].byteRanges == [[0, 6]])
        #expect(activity.inputs[1].byteRanges == [])
    }

    @Test func everyVersionWrittenToAVersionedBucketIsAnOutputAnUnversionedRewriteReplaces() throws {
        let events = try [
            #"{"event":"s3","v":1,"op":"write","url":"s3://b/model","etag":"\"a\"","version_id":"v1"}"#,
            #"{"event":"s3","v":1,"op":"write","url":"s3://b/model","etag":"\"b\"","version_id":"v2"}"#,
            #"{"event":"s3","v":1,"op":"write","url":"s3://b/plain","etag":"\"c\""}"#,
            #"{"event":"s3","v":1,"op":"write","url":"s3://b/plain","etag":"\"d\""}"#,
            #"{"event":"s3","v":1,"op":"write","url":"s3://b/gone","etag":"\"e\"","version_id":"v3"}"#,
            #"{"event":"s3","v":1,"op":"delete","url":"s3://b/gone","version_id":"v3"}"#,
        ].map(Self.event)
        let activity = S3Activity(events: events, contentDigests: [:])
        #expect(activity.outputs.map { $0.hashes["etag"] } == ["a", "b", "d"])
        #expect(activity.outputs.map(\.path) == ["s3://b/model", "s3://b/model", "s3://b/plain"])
        #expect(activity.deletes == ["s3://b/gone"])
    }

    @Test func aBodyDigestAndFullObjectChecksumsAreKeptCompositeOnesAreNot() throws {
        let events = try [
            #"{"event":"s3","v":1,"op":"read","url":"s3://b/k","etag":"\"e\"","version_id":"v7","call":"9-1","checksums":{"crc32":"AAA=","type":"FULL_OBJECT"}}"#,
            #"{"event":"s3","v":1,"op":"write","url":"s3://b/m","etag":"\"x-2\"","checksums":{"crc32":"BBB=","type":"COMPOSITE"}}"#,
        ].map(Self.event)
        let activity = S3Activity(events: events, contentDigests: ["9-1": "b3"])
        #expect(activity.inputs[0].hashes == ["etag": "e", "s3_version_id": "v7", "crc32": "AAA=", "blake3": "b3"])
        #expect(activity.outputs[0].hashes == ["etag": "x-2"])
    }

    @Test func deletesTakeTheKeyOutOfTheOutputsAndReadingBackOwnWritesIsNoInput() throws {
        let events = try [
            #"{"event":"s3","v":1,"op":"write","url":"s3://b/a","etag":"\"1\""}"#,
            #"{"event":"s3","v":1,"op":"read","url":"s3://b/a","etag":"\"1\""}"#,
            #"{"event":"s3","v":1,"op":"write","url":"s3://b/t","etag":"\"2\""}"#,
            #"{"event":"s3","v":1,"op":"delete","url":"s3://b/t"}"#,
        ].map(Self.event)
        let activity = S3Activity(events: events, contentDigests: [:])
        #expect(activity.outputs.map(\.path) == ["s3://b/a"])
        #expect(activity.inputs.isEmpty)
        #expect(activity.deletes == ["s3://b/t"])
    }

    @Test func aTransferGivesTheObjectTheLocalFilesDigest() throws {
        var activity = S3Activity(
            events: try [
                #"{"event":"s3","v":1,"op":"write","url":"s3://b/up","etag":"\"u-3\"","size":9}"#,
                #"{"event":"s3","v":1,"op":"read","url":"s3://b/down","etag":"\"d\"","byte_ranges":[[0,9]],"size":9}"#,
            ].map(Self.event), contentDigests: [:])
        activity.link(
            [
                S3TransferEvent(direction: .upload, url: "s3://b/up", path: "/p/in.bin"),
                S3TransferEvent(direction: .download, url: "s3://b/down", path: "/p/out.bin"),
            ],
            localReads: [Ref(path: "/p/in.bin", hashes: ["blake3": "in"])],
            localWrites: ["/p/out.bin": Ref(path: "/p/out.bin", hashes: ["blake3": "out"])])
        #expect(activity.outputs[0].hashes["blake3"] == "in")
        #expect(activity.inputs[0].hashes["blake3"] == "out")
    }
}
