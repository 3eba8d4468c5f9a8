public import RoarCore

/// What one job did to S3, folded from its `s3` events in the order they happened (`docs/s3.md`).
///
/// - A write is an output of `s3://bucket/key`. A later write of the same key replaces it, unless both
///   name S3 versions (a versioned bucket keeps every version: each is an output a reader may ask for by
///   its id). A delete takes the key (or the version it names) out of the outputs and into `deletes`.
/// - Reads of one object version (same ETag, else same version id) are one input: their byte ranges
///   are merged, and a whole read — or ranges that cover the object — makes it whole (`byteRanges` nil).
///   A `HeadObject` alone is an input with `byteRanges` `[]` (the job depended on the metadata). A read
///   that names no version (the source of a copy) joins the job's first read of that object.
/// - Reading back the version the job wrote itself is not an input, as for files.
struct S3Activity {
    var inputs: [Ref] = []
    var outputs: [Ref] = []
    var deletes: [String] = []

    /// `contentDigests`: BLAKE3 of `GetObject` bodies by call id (`s3_content` events of the whole run:
    /// the body may be finished by another thread than the one that made the call).
    init(events: [S3Event], contentDigests: [String: String]) {
        var outputsByURL: [String: Ref] = [:]
        var outputOrder: [String] = []
        var inputsByVersion: [String: Ref] = [:]
        var inputOrder: [String] = []
        var written: Set<String> = []

        // The first version read of each object: a read that names no version (a copy's source) joins it.
        var firstVersionRead: [String: String] = [:]

        for event in events {
            let ref = Self.ref(for: event, contentDigests: contentDigests)
            var version = event.url + "\u{0}" + (event.bareETag ?? event.versionID ?? "")
            if event.bareETag == nil, event.versionID == nil, let first = firstVersionRead[event.url] {
                version = first
            }
            switch event.operation {
            case .write:
                let key = Self.outputKey(event)
                if event.versionID == nil {  // an unversioned write replaces whatever the job wrote there
                    for other in outputOrder where other != key && other.hasPrefix(event.url + "\u{0}") {
                        outputsByURL.removeValue(forKey: other)
                    }
                    outputOrder.removeAll { $0 != key && $0.hasPrefix(event.url + "\u{0}") }
                }
                if outputsByURL[key] == nil { outputOrder.append(key) }
                outputsByURL[key] = ref
                written.insert(version)
                deletes.removeAll { $0 == event.url }
            case .delete:
                let removed = outputOrder.filter { key in
                    event.versionID.map { key == event.url + "\u{0}" + $0 } ?? key.hasPrefix(event.url + "\u{0}")
                }
                for key in removed { outputsByURL.removeValue(forKey: key) }
                outputOrder.removeAll { removed.contains($0) }
                if !deletes.contains(event.url) { deletes.append(event.url) }
            case .read, .head:
                if written.contains(version) { continue }
                guard var existing = inputsByVersion[version] else {
                    if firstVersionRead[event.url] == nil { firstVersionRead[event.url] = version }
                    inputsByVersion[version] = ref
                    inputOrder.append(version)
                    continue
                }
                existing.byteRanges = Self.union(existing.byteRanges, ref.byteRanges, size: existing.size ?? ref.size)
                existing.hashes.merge(ref.hashes) { old, _ in old }
                existing.size = existing.size ?? ref.size
                inputsByVersion[version] = existing
            }
        }
        inputs = inputOrder.compactMap { inputsByVersion[$0] }
        outputs = outputOrder.compactMap { outputsByURL[$0] }
    }

    /// Outputs are kept per object version when S3 named one, else per object.
    static func outputKey(_ event: S3Event) -> String {
        event.url + "\u{0}" + (event.versionID ?? "")
    }

    /// Managed transfers: an uploaded object gets the BLAKE3 of the local file the job read, a whole
    /// downloaded object that of the file the job wrote (the preload hashed them; nothing is hashed again).
    mutating func link(_ transfers: [S3TransferEvent], localReads: [Ref], localWrites: [String: Ref]) {
        for transfer in transfers {
            switch transfer.direction {
            case .upload:
                guard let digest = localReads.last(where: { $0.path == transfer.path })?.hashes["blake3"],
                    let index = outputs.lastIndex(where: { $0.path == transfer.url && $0.hashes["blake3"] == nil })
                else { continue }
                outputs[index].hashes["blake3"] = digest
            case .download:
                guard let digest = localWrites[transfer.path]?.hashes["blake3"],
                    let index = inputs.lastIndex(where: {
                        $0.path == transfer.url && $0.byteRanges == nil && $0.hashes["blake3"] == nil
                    })
                else { continue }
                inputs[index].hashes["blake3"] = digest
            }
        }
    }

    static func ref(for event: S3Event, contentDigests: [String: String]) -> Ref {
        var hashes = event.fullObjectChecksums
        if let etag = event.bareETag { hashes["etag"] = etag }
        if let version = event.versionID { hashes["s3_version_id"] = version }
        if let blake3 = event.blake3 ?? event.call.flatMap({ contentDigests[$0] }) { hashes["blake3"] = blake3 }
        let ranges: [[Int64]]? =
            switch event.operation {
            case .head: []
            case .read: event.byteRanges.flatMap { normalized($0, size: event.size) }
            case .write, .delete: nil
            }
        return Ref(path: event.url, kind: .s3, hashes: hashes, size: event.size, capture: "boto3", byteRanges: ranges)
    }

    /// The union of two reads' ranges: nil (whole) wins; `[]` (metadata only) adds nothing.
    static func union(_ first: [[Int64]]?, _ second: [[Int64]]?, size: Int64?) -> [[Int64]]? {
        guard let first, let second else { return nil }
        return normalized(first + second, size: size)
    }

    /// Sorted, overlapping and touching ranges joined; nil when they cover `[0, size)`.
    static func normalized(_ ranges: [[Int64]], size: Int64?) -> [[Int64]]? {
        var merged: [[Int64]] = []
        for range in ranges.filter({ $0.count == 2 && $0[0] < $0[1] }).sorted(by: { $0[0] < $1[0] }) {
            if let last = merged.last, range[0] <= last[1] {
                merged[merged.count - 1][1] = max(last[1], range[1])
            } else {
                merged.append(range)
            }
        }
        if let size, merged.count == 1, merged[0][0] == 0, merged[0][1] >= size { return nil }
        return merged
    }
}
