import CBLAKE3

/// A dataset that is one thing to its user though many parts make it: a folder of parquet parts, an
/// S3 prefix of objects. Recorded as a ref of kind `composite` whose path is the folder (or
/// `s3://bucket/prefix`) and whose digest is a Merkle hash over its parts (`docs/composites.md`).
public struct Composite: Hashable, Sendable {
    /// The folder's absolute path, or `s3://bucket/prefix` (no trailing `/`).
    public var path: String
    /// Sorted by name, bytewise.
    public private(set) var components: [CompositeComponent]
    /// ``digest(of:)`` of the components.
    public let digest: String

    /// The hash key of a composite's digest in `Ref.hashes`.
    public static let algorithm = "blake3_merkle"

    public init(path: String, components: [CompositeComponent]) {
        self.path = path
        self.components = components.sorted { $0.name.utf8.lexicographicallyPrecedes($1.name.utf8) }
        self.digest = Self.digest(of: self.components)
    }

    /// Bytes of all components (nil when any size is unknown).
    public var size: Int64? {
        var total: Int64 = 0
        for component in components {
            guard let size = component.size else { return nil }
            total += size
        }
        return total
    }

    /// The ref a job that wrote (or read) the whole dataset carries.
    public var ref: Ref {
        Ref(
            path: path, kind: .composite, hashes: [Self.algorithm: digest], size: size, capture: "composite",
            components: components)
    }

    // MARK: The digest

    /// The Merkle root over `components`, in hex: BLAKE3 of a domain string and the leaves' digests in
    /// the components' order; a leaf is BLAKE3 of its own domain string, the name, the algorithm and
    /// the hex digest, each followed by a NUL byte. The order of names makes it independent of the
    /// order tasks finished in; names and digests both count, so renaming a part changes it too.
    public static func digest(of components: [CompositeComponent]) -> String {
        var root: [UInt8] = Array("roar.composite/1".utf8) + [0]
        root.reserveCapacity(root.count + components.count * Int(ROAR_BLAKE3_OUT_LEN))
        for component in components {
            let leaf =
                Array("roar.composite.leaf/1".utf8) + [0] + Array(component.name.utf8) + [0]
                + Array(component.algorithm.utf8) + [0] + Array(component.digest.utf8) + [0]
            root += blake3(leaf)
        }
        return hex(blake3(root))
    }

    private static func blake3(_ bytes: [UInt8]) -> [UInt8] {
        var digest = [UInt8](repeating: 0, count: Int(ROAR_BLAKE3_OUT_LEN))
        bytes.withUnsafeBytes { roar_blake3_hash($0.baseAddress, $0.count, &digest) }
        return digest
    }

    private static func hex(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var text: [UInt8] = []
        text.reserveCapacity(bytes.count * 2)
        for byte in bytes {
            text.append(digits[Int(byte >> 4)])
            text.append(digits[Int(byte & 0xf)])
        }
        return String(decoding: text, as: UTF8.self)
    }

    // MARK: Which folder a part belongs to

    /// The dataset folder a part at `path` belongs to: its parent, above any Hive-style partition
    /// folders (`year=2024/`), which are part of the dataset's layout rather than datasets of their
    /// own. nil for a path with no parent to speak of (`/x`, `s3://bucket/x`).
    public static func folder(ofPart path: String) -> String? {
        let (root, key) = split(path)
        var parts = key.split(separator: "/", omittingEmptySubsequences: true)
        guard parts.count >= 2 else { return nil }
        parts.removeLast()
        while parts.count > 1, let last = parts.last, isPartitionFolder(last) { parts.removeLast() }
        return root + parts.joined(separator: "/")
    }

    /// `name` of the part at `path` inside the dataset folder `folder`, or nil when it is not inside.
    public static func name(ofPart path: String, in folder: String) -> String? {
        let prefix = folder + "/"
        guard path.hasPrefix(prefix), path.count > prefix.count else { return nil }
        return String(path.dropFirst(prefix.count))
    }

    /// `key=value`, as Hive, Spark, pyarrow and Ray Data name partition folders.
    public static func isPartitionFolder(_ name: Substring) -> Bool {
        guard let equals = name.firstIndex(of: "="), equals != name.startIndex else { return false }
        return true
    }

    /// `s3://bucket/` and the key, or `/` and the path without its leading slash.
    private static func split(_ path: String) -> (root: String, rest: Substring) {
        if path.hasPrefix("s3://") {
            let afterScheme = path.dropFirst(5)
            guard let slash = afterScheme.firstIndex(of: "/") else { return (path, "") }
            return ("s3://" + afterScheme[..<slash] + "/", afterScheme[afterScheme.index(after: slash)...])
        }
        return ("/", Substring(path).drop { $0 == "/" })
    }
}

/// One part of a composite: its name inside the folder (`part-0.parquet`, `year=2024/part-0.parquet`)
/// and the digest that identifies its content (BLAKE3 for files; for S3 objects BLAKE3 when the bytes
/// passed through the task, else the ETag).
public struct CompositeComponent: Codable, Hashable, Sendable {
    public var name: String
    public var algorithm: String
    public var digest: String
    public var size: Int64?

    public init(name: String, algorithm: String, digest: String, size: Int64? = nil) {
        self.name = name
        self.algorithm = algorithm
        self.digest = digest
        self.size = size
    }

    /// Algorithms a component may be identified by, preferred first.
    public static let algorithms = ["blake3", "sha256", "etag"]

    /// The component `ref` is, named `name`; nil when the ref has no digest that identifies content.
    public init?(name: String, ref: Ref) {
        guard let algorithm = Self.algorithms.first(where: { ref.hashes[$0] != nil }) else { return nil }
        self.init(name: name, algorithm: algorithm, digest: ref.hashes[algorithm]!, size: ref.size)
    }

    /// Whether `ref` (a read of this part) saw this component's content.
    public func matches(_ ref: Ref) -> Bool {
        ref.hashes[algorithm] == digest
    }
}
