public import RoarCore

/// The digests of files tasks read on cluster nodes, as the nodes' agents computed them
/// (the host cannot hash a file that exists only on a node). Paths are host paths, restored
/// the same way as the spool records.
public struct NodeDigestResolver: ReadDigestResolver {
    /// Digests of the exact versions tasks read.
    public var byVersion: [FileVersion: String] = [:]
    /// A file's version and digest as found at the end of the job (for truncates, links and
    /// writes left open), by host path.
    public var current: [String: (digest: String, version: FileVersion)] = [:]

    public init() {}

    /// A version's digest: the version alone identifies it, whatever path it was read by.
    public mutating func addRead(version: FileVersion, digest: String) {
        byVersion[version] = digest
    }

    public mutating func addCurrent(path: String, version: FileVersion, digest: String) {
        current[path] = (digest, version)
        byVersion[version] = digest
    }

    public func currentDigest(ofPath path: String, ifVersion version: FileVersion?) -> (
        digest: String, version: FileVersion
    )? {
        if let version {
            return byVersion[version].map { ($0, version) }
        }
        return current[path]
    }
}
