public import RoarCore

// FoundationEssentials where available: roar-agent links this statically and full Foundation brings ICU.
#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// The plaintext of a batch sent by `roar-agent` (`docs/batch-format.md`, schema `roar.segments/1`):
/// raw byte ranges of a node's spool files, plus digests of the files tasks read, which only the
/// node can hash. The host writes the segments back into spool files at their offsets and
/// reconstitutes them exactly as in local mode.
public struct SegmentBatch: Codable, Hashable, Sendable {
    public static let currentSchema = "roar.segments/1"

    public var schema: String
    /// The run id; equals the batch header's session.
    public var sessionID: String
    public var producer: String
    /// The last batch of the agent's final round: nothing follows from this producer.
    public var isFinal: Bool
    /// How node paths map back to host paths (as the agent was given it), if any.
    public var pathMap: PathRestorer?
    public var segments: [Segment]
    /// Digests of the versions tasks read, hashed on the node where the version was still current.
    public var readDigests: [FileDigest]
    /// Final batch only: the current version of each file named by a truncate, link or rename
    /// target or open-for-write record, as the host's assembler would otherwise hash it locally.
    public var currentDigests: [FileDigest]
    public var stats: Stats

    public init(
        sessionID: String, producer: String, isFinal: Bool = false, pathMap: PathRestorer? = nil,
        segments: [Segment] = [], readDigests: [FileDigest] = [], currentDigests: [FileDigest] = [],
        stats: Stats = Stats()
    ) {
        self.schema = Self.currentSchema
        self.sessionID = sessionID
        self.producer = producer
        self.isFinal = isFinal
        self.pathMap = pathMap
        self.segments = segments
        self.readDigests = readDigests
        self.currentDigests = currentDigests
        self.stats = stats
    }

    /// Complete lines of one spool file, starting at `offset` in that file.
    public struct Segment: Codable, Hashable, Sendable {
        /// The spool file's path relative to the node's spool directory.
        public var file: String
        public var offset: Int64
        /// The bytes as the writer wrote them (base64 in JSON).
        public var data: [UInt8]

        public init(file: String, offset: Int64, data: [UInt8]) {
            self.file = file
            self.offset = offset
            self.data = data
        }

        enum CodingKeys: String, CodingKey { case file, offset, data }

        public init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            file = try container.decode(String.self, forKey: .file)
            offset = try container.decode(Int64.self, forKey: .offset)
            let text = try container.decode(String.self, forKey: .data)
            guard let bytes = Data(base64Encoded: text) else {
                throw DecodingError.dataCorruptedError(
                    forKey: .data, in: container, debugDescription: "segment of \(file) at \(offset) is not base64")
            }
            data = Array(bytes)
        }

        public func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(file, forKey: .file)
            try container.encode(offset, forKey: .offset)
            try container.encode(Data(data).base64EncodedString(), forKey: .data)
        }
    }

    /// The BLAKE3 of one version of a file, at its node path.
    public struct FileDigest: Codable, Hashable, Sendable {
        /// The node path as the spool recorded it (not restored).
        public var path: String
        public var version: FileVersion
        /// 64 lowercase hex digits.
        public var blake3: String

        public init(path: String, version: FileVersion, blake3: String) {
            self.path = path
            self.version = version
            self.blake3 = blake3
        }

        enum CodingKeys: String, CodingKey {
            case path, dev, ino, size, blake3
            case modifiedNanoseconds = "mtime_ns"
        }

        public init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            path = try container.decode(String.self, forKey: .path)
            version = FileVersion(
                device: try container.decode(UInt64.self, forKey: .dev),
                inode: try container.decode(UInt64.self, forKey: .ino),
                size: try container.decode(Int64.self, forKey: .size),
                modifiedNanoseconds: try container.decode(Int64.self, forKey: .modifiedNanoseconds))
            blake3 = try container.decode(String.self, forKey: .blake3)
        }

        public func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(path, forKey: .path)
            try container.encode(version.device, forKey: .dev)
            try container.encode(version.inode, forKey: .ino)
            try container.encode(version.size, forKey: .size)
            try container.encode(version.modifiedNanoseconds, forKey: .modifiedNanoseconds)
            try container.encode(blake3, forKey: .blake3)
        }
    }

    /// What the agent saw while producing this batch (for diagnostics; not lineage).
    public struct Stats: Codable, Hashable, Sendable {
        /// Spool files with segments in this batch.
        public var files: Int
        /// Segment bytes in this batch.
        public var bytes: Int
        /// Files hashed for this batch's digests.
        public var hashedFiles: Int
        /// Files that could not be hashed: gone, changed since they were read, unreadable, or
        /// spool files that could not be read.
        public var hashFailures: Int

        public init(files: Int = 0, bytes: Int = 0, hashedFiles: Int = 0, hashFailures: Int = 0) {
            self.files = files
            self.bytes = bytes
            self.hashedFiles = hashedFiles
            self.hashFailures = hashFailures
        }

        enum CodingKeys: String, CodingKey {
            case files, bytes
            case hashedFiles = "hashed_files"
            case hashFailures = "hash_failures"
        }
    }

    enum CodingKeys: String, CodingKey {
        case schema
        case sessionID = "session_id"
        case producer
        case isFinal = "final"
        case pathMap = "path_map"
        case segments
        case readDigests = "read_digests"
        case currentDigests = "current_digests"
        case stats
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        schema = try container.decode(String.self, forKey: .schema)
        guard schema == Self.currentSchema else {
            throw DecodingError.dataCorruptedError(
                forKey: .schema, in: container,
                debugDescription: "schema is \(schema), this roar reads \(Self.currentSchema)")
        }
        sessionID = try container.decode(String.self, forKey: .sessionID)
        producer = try container.decode(String.self, forKey: .producer)
        isFinal = try container.decodeIfPresent(Bool.self, forKey: .isFinal) ?? false
        pathMap = try container.decodeIfPresent(PathRestorer.self, forKey: .pathMap)
        segments = try container.decodeIfPresent([Segment].self, forKey: .segments) ?? []
        readDigests = try container.decodeIfPresent([FileDigest].self, forKey: .readDigests) ?? []
        currentDigests = try container.decodeIfPresent([FileDigest].self, forKey: .currentDigests) ?? []
        stats = try container.decodeIfPresent(Stats.self, forKey: .stats) ?? Stats()
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(schema, forKey: .schema)
        try container.encode(sessionID, forKey: .sessionID)
        try container.encode(producer, forKey: .producer)
        try container.encode(isFinal, forKey: .isFinal)
        if let pathMap {
            try container.encode(pathMap, forKey: .pathMap)
        } else {
            try container.encodeNil(forKey: .pathMap)
        }
        try container.encode(segments, forKey: .segments)
        try container.encode(readDigests, forKey: .readDigests)
        try container.encode(currentDigests, forKey: .currentDigests)
        try container.encode(stats, forKey: .stats)
    }

    /// The UTF-8 JSON plaintext of a batch.
    public func encoded() throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return Array(try encoder.encode(self))
    }

    public static func decode(from json: [UInt8]) throws -> SegmentBatch {
        try JSONDecoder().decode(SegmentBatch.self, from: Data(json))
    }
}
