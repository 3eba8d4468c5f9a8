/// Decides which paths are lineage and which are noise: system trees, interpreters and their
/// packages, version control, roar's own files, temporary files outside the project.
///
/// The same prefixes are handed to the preload library (`ROAR_IGNORE`/`ROAR_INCLUDE`) so that
/// noise is dropped where it happens; this filter is applied again when spools are read.
public struct PathFilter: Sendable, Hashable {
    public var projectDirectory: String
    public var ignoredPrefixes: [String]
    public var includedPrefixes: [String]
    /// Path components that mark noise wherever they appear.
    public var ignoredComponents: Set<String>

    public static let systemPrefixes = [
        "/proc/", "/sys/", "/dev/", "/etc/", "/run/", "/usr/", "/lib/", "/lib64/", "/lib32/", "/bin/", "/sbin/",
        "/opt/", "/var/lib/", "/var/cache/", "/var/log/", "/snap/", "/nix/",
    ]
    public static let temporaryPrefixes = ["/tmp/", "/var/tmp/", "/dev/shm/"]
    public static let noiseComponents: Set<String> = [
        ".git", ".roar", "__pycache__", "site-packages", "dist-packages", ".venv", ".ipynb_checkpoints",
    ]

    /// - Parameters:
    ///   - projectDirectory: the folder holding `.roar/`; always recorded, even under /tmp.
    ///   - ignoreTemporary: ignore /tmp and /var/tmp outside the project.
    ///   - extraIgnored: more prefixes to ignore (roar.toml `filters.ignore`, interpreter prefixes, home caches).
    ///   - extraIncluded: prefixes recorded even when under a shorter ignored one (roar.toml `filters.include`).
    public init(
        projectDirectory: String, ignoreTemporary: Bool = true, extraIgnored: [String] = [],
        extraIncluded: [String] = []
    ) {
        self.projectDirectory = PathFilter.directoryPrefix(projectDirectory)
        var ignored = PathFilter.systemPrefixes
        if ignoreTemporary { ignored += PathFilter.temporaryPrefixes }
        ignored += extraIgnored.map(PathFilter.directoryPrefix)
        self.ignoredPrefixes = ignored
        self.includedPrefixes = [self.projectDirectory] + extraIncluded.map(PathFilter.directoryPrefix)
        self.ignoredComponents = PathFilter.noiseComponents
    }

    /// Whether a file at this absolute path is part of the lineage.
    public func isRecorded(_ path: String) -> Bool {
        guard path.hasPrefix("/") else { return false }
        for component in path.split(separator: "/") where ignoredComponents.contains(String(component)) {
            return false
        }
        if path.hasSuffix(".pyc") || path.contains("/lib/python3") || path.contains("/lib/python2") { return false }
        // The most specific prefix decides: the project under /tmp is recorded, a folder the
        // user ignores inside the project is not.
        let included = includedPrefixes.lazy.filter { path.hasPrefix($0) }.map(\.utf8.count).max() ?? -1
        let ignored = ignoredPrefixes.lazy.filter { path.hasPrefix($0) }.map(\.utf8.count).max() ?? -1
        return included >= ignored
    }

    /// `ROAR_IGNORE` for the preload library: prefixes without their trailing slash, `:`-joined.
    public var ignoreEnvironmentValue: String {
        ignoredPrefixes.map { String($0.dropLast()) }.joined(separator: ":")
    }

    /// `ROAR_INCLUDE` for the preload library.
    public var includeEnvironmentValue: String {
        includedPrefixes.map { String($0.dropLast()) }.joined(separator: ":")
    }

    static func directoryPrefix(_ path: String) -> String {
        path.hasSuffix("/") ? path : path + "/"
    }
}
