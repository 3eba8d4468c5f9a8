/// A project's settings, read from `roar.toml` at the project root (next to `.roar/`).
///
/// Every key is optional in the file; a missing file means ``default``. `docs/config.md` lists
/// every key; ``keys`` describes them for `roar config list`.
///
/// ```swift
/// let config = try RoarConfig.load(fromFile: RoarConfig.filePath(inProject: root))
///     .applyingEnvironment(ProcessInfo.processInfo.environment)
/// if config.ray.isEnabled { … }
/// ```
public struct RoarConfig: Sendable, Equatable {
    /// `[ray]`: Ray instrumentation.
    public var ray: Ray
    /// `[filters]`: which paths are recorded.
    public var filters: Filters
    /// `[hash]`: content hashing of written files.
    public var hash: Hash
    /// `[run]`: how traced commands report.
    public var run: Run
    /// `[glaas]`: the lineage server.
    public var glaas: Glaas

    public init(
        ray: Ray = Ray(), filters: Filters = Filters(), hash: Hash = Hash(), run: Run = Run(), glaas: Glaas = Glaas()
    ) {
        self.ray = ray
        self.filters = filters
        self.hash = hash
        self.run = run
        self.glaas = glaas
    }

    /// Every key at its default: what a project without `roar.toml` gets.
    public static let `default` = RoarConfig()

    /// The name of the file at the project root.
    public static let fileName = "roar.toml"

    /// `<projectRoot>/roar.toml`.
    public static func filePath(inProject projectRoot: String) -> String {
        projectRoot.hasSuffix("/") ? projectRoot + fileName : projectRoot + "/" + fileName
    }

    /// `[ray]`
    public struct Ray: Sendable, Equatable {
        /// `ray.enabled`: inject roar into Ray drivers and workers. Default `true`.
        public var isEnabled: Bool
        /// `ray.actor_attribution`. Default ``ActorAttribution/perCall``.
        public var actorAttribution: ActorAttribution

        public init(isEnabled: Bool = true, actorAttribution: ActorAttribution = .perCall) {
            self.isEnabled = isEnabled
            self.actorAttribution = actorAttribution
        }
    }

    /// How I/O inside a Ray actor is grouped into jobs.
    public enum ActorAttribution: String, Sendable, Hashable, CaseIterable {
        /// `"per_call"`: every actor method call is its own job.
        case perCall = "per_call"
        /// `"per_actor"`: one job per actor instance, holding all its calls.
        case perActor = "per_actor"
    }

    /// `[filters]`
    public struct Filters: Sendable, Equatable {
        /// `filters.ignore`: path prefixes never recorded, in addition to roar's built-in system
        /// prefixes. Absolute: relative entries in `roar.toml` are resolved against the folder
        /// holding it. Default empty.
        public var ignore: [String]
        /// `filters.include`: path prefixes always recorded, even under an ignored prefix.
        /// Absolute, like ``ignore``. Default empty.
        public var include: [String]
        /// `filters.ignore_tmp`: ignore `/tmp` and `/var/tmp`, except paths inside the project.
        /// Default `true`.
        public var ignoresTemporaryDirectories: Bool

        public init(ignore: [String] = [], include: [String] = [], ignoresTemporaryDirectories: Bool = true) {
            self.ignore = ignore
            self.include = include
            self.ignoresTemporaryDirectories = ignoresTemporaryDirectories
        }
    }

    /// `[hash]`
    public struct Hash: Sendable, Equatable {
        /// `hash.algorithm`. Default ``HashAlgorithm/blake3``.
        public var algorithm: HashAlgorithm

        public init(algorithm: HashAlgorithm = .blake3) {
            self.algorithm = algorithm
        }
    }

    /// The content digest recorded for written files.
    public enum HashAlgorithm: String, Sendable, Hashable, CaseIterable {
        case blake3
        case sha256
    }

    /// `[run]`
    public struct Run: Sendable, Equatable {
        /// `run.flush_ms`: how often, in milliseconds (1...60000), a traced process writes out
        /// what it captured; a process killed with SIGKILL loses at most this much. Default 1000.
        public var flushMilliseconds: Int

        public static let flushMillisecondsRange = 1...60_000

        public init(flushMilliseconds: Int = 1000) {
            self.flushMilliseconds = flushMilliseconds
        }
    }

    /// `[glaas]`
    public struct Glaas: Sendable, Equatable {
        /// `glaas.url`: the GLaaS server (an `http` or `https` URL); `nil` when none is set.
        public var url: String?

        public init(url: String? = nil) {
            self.url = url
        }
    }
}
