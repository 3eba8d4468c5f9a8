public import RoarCore

#if canImport(Glibc)
    import Glibc
#endif

/// What a user meant by a target of `roar show` / `roar lineage`: `@N` (a step), a job uid or
/// content digest prefix, or a path.
public enum LookedUpTarget: Sendable {
    case jobs([RecordedJob])
    /// `composite`: when the path is a dataset folder, its latest composite ref (parts and digest).
    case content(description: String, writers: [RecordedJob], readers: [RecordedJob], composite: Ref? = nil)
}

extension RoarStore {
    /// The project's whole graph: every job and every edge.
    public func graph() throws(StoreError) -> LineageGraph {
        LineageGraph(jobs: try allJobs(), edges: try edges())
    }

    /// Finds what `target` names, in this order: `@N`; a hex prefix of 4 or more digits as a job
    /// uid, then as a digest; a path (relative to `currentDirectory`). Throws `noMatch` with a
    /// message saying what to give when nothing matches.
    public func lookUp(_ target: String, currentDirectory: String) throws(StoreError) -> LookedUpTarget {
        if target.hasPrefix("@") {
            guard let step = Int(target.dropFirst()) else {
                throw StoreError(
                    code: .noMatch, path: path, message: "'\(target)' is not a step: use @ and a number, e.g. @3")
            }
            let atStep = try jobs(atStep: step)
            guard !atStep.isEmpty else {
                throw StoreError(code: .noMatch, path: path, message: "no step @\(step) (see `roar log`)")
            }
            return .jobs(atStep)
        }
        let isHex = !target.isEmpty && target.allSatisfy { $0.isHexDigit } && target.count >= 4
        if isHex {
            let byUID = try jobs(uidPrefix: target.lowercased())
            if !byUID.isEmpty { return .jobs(byUID) }
            let writers = try jobs(producingDigestPrefix: target.lowercased())
            let readers = try jobs(consumingDigestPrefix: target.lowercased())
            if !writers.isEmpty || !readers.isEmpty {
                return .content(description: "content \(target)…", writers: writers, readers: readers)
            }
        }
        let path = Self.absolutePath(target, currentDirectory: currentDirectory)
        let touching = try jobs(touchingPath: path)
        if !touching.isEmpty {
            let writers = touching.filter { $0.outputs.contains { $0.path == path } }
            let readers = touching.filter { $0.inputs.contains { $0.path == path } }
            let refs = touching.flatMap { $0.outputs + $0.inputs }.filter { $0.path == path }
            // Written on a Ray node and never on this host: say so rather than look missing.
            let onClusterOnly = !refs.isEmpty && refs.allSatisfy(\.isClusterOnly) && access(path, F_OK) != 0
            func isComposite(_ ref: Ref) -> Bool { ref.kind == .composite && ref.path == path }
            let composite =
                touching.flatMap(\.outputs).last(where: isComposite)
                ?? touching.flatMap(\.inputs).last(where: isComposite)
            return .content(
                description: path + (onClusterOnly ? " (on the cluster only)" : ""), writers: writers, readers: readers,
                composite: composite)
        }
        throw StoreError(
            code: .noMatch, path: self.path,
            message: "nothing recorded matches '\(target)': give @N, a job uid or digest prefix, or a recorded path")
    }

    /// `path` made absolute against `currentDirectory`, with `.` and `..` resolved textually.
    public static func absolutePath(_ path: String, currentDirectory: String) -> String {
        if path.hasPrefix("s3://") { return path }  // an object's URL, as recorded
        let joined = path.hasPrefix("/") ? path : currentDirectory + "/" + path
        var parts: [Substring] = []
        for part in joined.split(separator: "/") {
            if part == "." || part.isEmpty { continue }
            if part == ".." {
                if !parts.isEmpty { parts.removeLast() }
                continue
            }
            parts.append(part)
        }
        return "/" + parts.joined(separator: "/")
    }
}
