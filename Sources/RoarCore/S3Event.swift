#if canImport(FoundationEssentials)
    import FoundationEssentials  // what roar-agent links: full Foundation brings ICU (45 MB)
#else
    import Foundation
#endif

/// One S3 operation a traced process completed, written by `roar_runtime`'s botocore capture as an
/// `E` spool record (`docs/s3.md`). Failed calls write nothing.
public struct S3Event: Codable, Hashable, Sendable {
    public enum Operation: String, Codable, Hashable, Sendable {
        /// The object's bytes were read (`GetObject`, whole or ranged; the source of a copy).
        case read
        /// Only the object's metadata was read (`HeadObject`).
        case head
        /// The object was written whole (`PutObject`, `CompleteMultipartUpload`, the target of a copy).
        case write
        case delete
    }

    public var operation: Operation
    /// The S3 API call: `PutObject`, `CompleteMultipartUpload`, `CopyObject`, …
    public var api: String?
    /// `s3://bucket/key`.
    public var url: String
    /// The ETag as S3 returned it (quotes included).
    public var etag: String?
    public var versionID: String?
    /// The whole object's size (for ranged reads too), when known.
    public var size: Int64?
    /// Checksums S3 returned: `crc64nvme`, `crc32`, `crc32c`, `sha1`, `sha256`, and their `type`
    /// (`FULL_OBJECT` or `COMPOSITE`) when S3 said it.
    public var checksums: [String: String]?
    /// BLAKE3 of the bytes, when they passed through the process (a `PutObject` body).
    public var blake3: String?
    /// `[start, end)` byte ranges of a ranged read.
    public var byteRanges: [[Int64]]?
    /// Names a `GetObject` whose body is hashed as it is read: its `s3_content` event has the same id.
    public var call: String?

    enum CodingKeys: String, CodingKey {
        case operation = "op"
        case api, url, etag, size, checksums, blake3, call
        case versionID = "version_id"
        case byteRanges = "byte_ranges"
    }

    /// The ETag without the quotes S3 puts around it: the form roar stores (algorithm `etag`).
    public var bareETag: String? {
        guard var etag else { return nil }
        if etag.hasPrefix("W/") { etag.removeFirst(2) }
        if etag.count >= 2, etag.hasPrefix("\""), etag.hasSuffix("\"") { etag = String(etag.dropFirst().dropLast()) }
        return etag.isEmpty ? nil : etag
    }

    /// The checksums that describe the whole object's content (not a composite of its parts).
    public var fullObjectChecksums: [String: String] {
        guard let checksums, checksums["type"].map({ $0 == "FULL_OBJECT" }) ?? true else { return [:] }
        return checksums.filter { $0.key != "type" }
    }
}

/// The BLAKE3 of a `GetObject` body, once the program read its last byte (`s3_content`).
public struct S3ContentEvent: Codable, Hashable, Sendable {
    public var call: String
    public var blake3: String
    public var size: Int64?
}

/// A managed transfer (`upload_file`, `download_file`) between an object and a local file (`s3_transfer`):
/// the two are the same bytes, so the object gets the file's digest.
public struct S3TransferEvent: Codable, Hashable, Sendable {
    public enum Direction: String, Codable, Hashable, Sendable {
        case upload, download
    }

    public var direction: Direction
    public var url: String
    /// Absolute path of the local file.
    public var path: String
}

/// The `E` events of the S3 capture.
public enum S3Record: Hashable, Sendable {
    case operation(S3Event)
    case content(S3ContentEvent)
    case transfer(S3TransferEvent)

    /// Decodes an `s3`, `s3_content` or `s3_transfer` event; `nil` for any other event kind.
    public static func decode(json: String) throws -> S3Record? {
        struct Probe: Decodable { var event: String }
        let data = Data(json.utf8)
        switch try JSONDecoder().decode(Probe.self, from: data).event {
        case "s3": return .operation(try JSONDecoder().decode(S3Event.self, from: data))
        case "s3_content": return .content(try JSONDecoder().decode(S3ContentEvent.self, from: data))
        case "s3_transfer": return .transfer(try JSONDecoder().decode(S3TransferEvent.self, from: data))
        default: return nil
        }
    }
}
