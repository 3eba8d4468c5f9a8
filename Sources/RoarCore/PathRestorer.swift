/// Maps paths a Ray worker saw back to the host paths they were uploaded from.
///
/// Ray unpacks a job's `working_dir` and each local `py_modules` folder on every node under
/// `…/runtime_resources/working_dir_files/_ray_pkg_<hash>/` and
/// `…/runtime_resources/py_modules_files/_ray_pkg_<hash>/`. The driver learns each package's
/// name from the job's runtime env (`gcs://_ray_pkg_<hash>.zip`) and the host tells it which
/// host folder each came from; with that table a node path is turned back into the host path.
public struct PathRestorer: Sendable, Hashable, Codable {
    /// One package Ray unpacked on the nodes.
    public struct Package: Sendable, Hashable, Codable {
        /// `_ray_pkg_<hash>` (the URI's file name without `.zip`).
        public var name: String
        public var kind: Kind
        /// The host folder the package's root corresponds to: the `working_dir` itself, or the
        /// parent of a `py_modules` folder (Ray keeps the module's folder name inside the package).
        public var hostPath: String

        public init(name: String, kind: Kind, hostPath: String) {
            self.name = name
            self.kind = kind
            self.hostPath = hostPath
        }

        enum CodingKeys: String, CodingKey {
            case name
            case kind
            case hostPath = "host_path"
        }
    }

    public enum Kind: String, Sendable, Hashable, Codable {
        case workingDirectory = "working_dir"
        case pythonModules = "py_modules"

        /// The folder under `runtime_resources/` Ray unpacks this kind into.
        var resourceFolder: String {
            switch self {
            case .workingDirectory: "working_dir_files"
            case .pythonModules: "py_modules_files"
            }
        }
    }

    public var packages: [Package]

    public init(packages: [Package] = []) {
        self.packages = packages
    }

    public var isEmpty: Bool { packages.isEmpty }

    /// The host path of a node path inside one of the packages; nil for any other path.
    public func hostPath(of path: String) -> String? {
        guard path.contains("/runtime_resources/") else { return nil }
        for package in packages {
            let marker = "/runtime_resources/\(package.kind.resourceFolder)/\(package.name)"
            guard let range = path.firstRange(of: marker) else { continue }
            let rest = path[range.upperBound...]
            if rest.isEmpty { return package.hostPath }
            guard rest.hasPrefix("/") else { continue }  // `_ray_pkg_<hash>x`: another package
            let base = package.hostPath.hasSuffix("/") ? String(package.hostPath.dropLast()) : package.hostPath
            return base + rest
        }
        return nil
    }

    /// The host path when the path is inside a package, else the path unchanged.
    public func restore(_ path: String) -> String {
        hostPath(of: path) ?? path
    }
}

extension SpoolRecord {
    /// The same record with every path it names passed through `transform` (the cwd of a
    /// header too): how node paths become host paths before a cluster run is assembled.
    public func mappingPaths(_ transform: (String) -> String) -> SpoolRecord {
        switch self {
        case .header(var header):
            header.cwd = transform(header.cwd)
            return .header(header)
        case .file(var access):
            access.path = transform(access.path)
            return .file(access)
        case .openForWrite(let tag, let nanoseconds, let mode, let path):
            return .openForWrite(tag: tag, nanoseconds: nanoseconds, mode: mode, path: transform(path))
        case .rename(let tag, let nanoseconds, let from, let to):
            return .rename(tag: tag, nanoseconds: nanoseconds, from: transform(from), to: transform(to))
        case .link(let tag, let nanoseconds, let from, let to):
            return .link(tag: tag, nanoseconds: nanoseconds, from: transform(from), to: transform(to))
        case .delete(let tag, let nanoseconds, let path):
            return .delete(tag: tag, nanoseconds: nanoseconds, path: transform(path))
        case .truncate(let tag, let nanoseconds, let path, let length):
            return .truncate(tag: tag, nanoseconds: nanoseconds, path: transform(path), length: length)
        case .exec(let tag, let nanoseconds, let path, let arguments):
            return .exec(tag: tag, nanoseconds: nanoseconds, path: transform(path), arguments: arguments)
        case .spawn, .warning, .event, .coverage, .exit:
            return self
        }
    }
}
