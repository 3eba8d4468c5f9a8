public import RoarCore

#if canImport(Glibc)
    import Glibc
#endif

/// Everything `roar run` hands to the traced command through its environment
/// (the variables of `docs/spool-format.md` and of the Ray runtime).
public struct TraceEnvironment: Sendable {
    public var runtime: RuntimeFiles
    public var projectDirectory: String
    public var spoolDirectory: String
    public var runID: String
    public var filter: PathFilter
    public var isRayEnabled: Bool
    public var actorAttribution: String
    public var flushMilliseconds: Int

    public init(
        runtime: RuntimeFiles, projectDirectory: String, spoolDirectory: String, runID: String, filter: PathFilter,
        isRayEnabled: Bool, actorAttribution: String, flushMilliseconds: Int
    ) {
        self.runtime = runtime
        self.projectDirectory = projectDirectory
        self.spoolDirectory = spoolDirectory
        self.runID = runID
        self.filter = filter
        self.isRayEnabled = isRayEnabled
        self.actorAttribution = actorAttribution
        self.flushMilliseconds = flushMilliseconds
    }

    /// The environment of the traced command: the user's, plus roar's variables.
    public func applied(to base: [String: String]) -> [String: String] {
        var environment = base
        let preload = runtime.preloadLibrary
        let existingPreload = (base["LD_PRELOAD"] ?? "").split(separator: ":").map(String.init).filter { $0 != preload }
        environment["LD_PRELOAD"] = ([preload] + existingPreload).joined(separator: ":")
        environment["ROAR_PRELOAD"] = preload
        environment["ROAR_SPOOL"] = spoolDirectory
        environment["ROAR_RUN_ID"] = runID
        environment["ROAR_PROJECT_DIR"] = projectDirectory
        environment["ROAR_TAG"] = ""
        environment["ROAR_IGNORE"] = filter.ignoreEnvironmentValue
        environment["ROAR_INCLUDE"] = filter.includeEnvironmentValue
        environment["ROAR_FLUSH_MS"] = String(flushMilliseconds)
        environment["ROAR_WORKER"] = runtime.workerExecutable
        environment["ROAR_WRAP"] = "1"
        environment["ROAR_RAY_ENABLED"] = isRayEnabled ? "1" : "0"
        environment["ROAR_RAY_ACTOR_ATTRIBUTION"] = actorAttribution
        let pythonPath = base["PYTHONPATH"].map { runtime.pythonDirectory + ":" + $0 } ?? runtime.pythonDirectory
        environment["PYTHONPATH"] = pythonPath
        return environment
    }

    /// Interpreter installations found on `PATH` (their prefix folders): their own files are
    /// never lineage, and ignoring them in the preload library keeps imports cheap to trace.
    public static func interpreterPrefixes(path: String?, projectDirectory: String) -> [String] {
        var prefixes: [String] = []
        for directory in (path ?? "").split(separator: ":") {
            for name in ["python3", "python"] {
                let candidate = "\(directory)/\(name)"
                guard access(candidate, X_OK) == 0, let resolved = realpath(candidate, nil) else { continue }
                let real = String(cString: resolved)
                free(resolved)
                // <prefix>/bin/python3 → <prefix>
                let components = real.split(separator: "/")
                guard components.count >= 3 else { continue }
                let prefix = "/" + components.dropLast(2).joined(separator: "/")
                if prefix != "/", !(projectDirectory + "/").hasPrefix(prefix + "/"), !prefixes.contains(prefix) {
                    prefixes.append(prefix)
                }
            }
        }
        return prefixes
    }
}
