/// One setting of `roar.toml`, described for `roar config list`, help text and `docs/config.md`.
public struct ConfigKey: Sendable, Hashable, CustomStringConvertible {
    /// The dotted key: `ray.actor_attribution`.
    public let name: String
    /// What values it takes.
    public let kind: Kind
    /// The default, written as ``RoarConfig/value(forKey:)`` prints it (`""` when unset).
    public let defaultValue: String
    /// One sentence on what it does.
    public let summary: String

    /// The table it lives in: `ray`.
    public var section: String { String(name.prefix { $0 != "." }) }
    /// The key inside its table: `actor_attribution`.
    public var field: String { String(name.drop { $0 != "." }.dropFirst()) }
    /// The variable that overrides it: `ROAR_RAY_ACTOR_ATTRIBUTION`.
    public var environmentVariable: String {
        "ROAR_" + String(name.uppercased().map { $0 == "." ? "_" : $0 })
    }
    public var description: String { name }

    /// The type of a setting's value.
    public enum Kind: Sendable, Hashable, CustomStringConvertible {
        /// `true` or `false`.
        case boolean
        /// A TOML integer within the range.
        case integer(ClosedRange<Int>)
        /// One of these strings.
        case choice([String])
        /// An `http` or `https` URL, or unset.
        case url
        /// An array of path prefixes.
        case pathList

        /// `boolean`, `integer 1...60000`, `"per_call" | "per_actor"`, …
        public var description: String {
            switch self {
            case .boolean: "boolean"
            case .integer(let range): "integer \(range.lowerBound)...\(range.upperBound)"
            case .choice(let choices): choices.map { "\"\($0)\"" }.joined(separator: " | ")
            case .url: "http(s) URL"
            case .pathList: "array of paths"
            }
        }
    }

    init(_ name: String, _ kind: Kind, default defaultValue: String, _ summary: String) {
        self.name = name
        self.kind = kind
        self.defaultValue = defaultValue
        self.summary = summary
    }
}

extension RoarConfig {
    /// Every key `roar.toml` accepts, in the order of the file `roar init` writes.
    public static let keys: [ConfigKey] = [
        ConfigKey(
            "ray.enabled", .boolean, default: "true",
            "Inject roar into Ray drivers and workers so that each Ray task and actor call becomes a job."),
        ConfigKey(
            "ray.actor_attribution", .choice(ActorAttribution.allCases.map(\.rawValue)), default: "per_call",
            "\"per_call\": each actor method call is its own job; \"per_actor\": one job per actor instance."),
        ConfigKey(
            "filters.ignore", .pathList, default: "[]",
            "Extra path prefixes never recorded (absolute, or relative to the project root)."),
        ConfigKey(
            "filters.include", .pathList, default: "[]",
            "Path prefixes always recorded, even under an ignored prefix (absolute, or relative to the project root)."
        ),
        ConfigKey(
            "filters.ignore_tmp", .boolean, default: "true",
            "Ignore files under /tmp and /var/tmp, except those inside the project."),
        ConfigKey(
            "hash.algorithm", .choice(HashAlgorithm.allCases.map(\.rawValue)), default: "blake3",
            "Content hash recorded for written files: \"blake3\", or \"sha256\" where BLAKE3 is not wanted."),
        ConfigKey(
            "run.flush_ms", .integer(Run.flushMillisecondsRange), default: "1000",
            "How often (milliseconds) a traced process writes out what it captured; a killed process loses at most this much."
        ),
        ConfigKey(
            "glaas.url", .url, default: "",
            "The GLaaS lineage server (http or https URL) that `roar register` publishes to; unset: none."),
    ]

    /// The value of a dotted key as text: `"ray.enabled"` → `"true"`, `"ray.actor_attribution"` →
    /// `"per_call"` (strings without quotes), `"filters.ignore"` → `["/data/cache"]` (a TOML array),
    /// `"glaas.url"` → `""` when unset. ``set(_:to:inFile:)`` accepts the same text.
    public func value(forKey key: String) throws(ConfigError) -> String {
        guard let configKey = ConfigKey.named(key) else {
            throw ConfigError.unknownKey(key, file: nil, line: nil)
        }
        return configKey.value(in: self).text
    }
}

// MARK: - Reading and writing a key's value

/// A setting's value, checked against its key's ``ConfigKey/Kind``.
enum SettingValue: Equatable, Sendable {
    case boolean(Bool)
    case integer(Int)
    case string(String)
    case strings([String])
    /// An optional setting left out (`glaas.url`).
    case unset

    /// How ``RoarConfig/value(forKey:)`` prints it.
    var text: String {
        switch self {
        case .boolean(let value): String(value)
        case .integer(let value): String(value)
        case .string(let value): value
        case .strings: tomlLiteral
        case .unset: ""
        }
    }

    /// The value as written in `roar.toml`.
    var tomlLiteral: String {
        switch self {
        case .boolean(let value): String(value)
        case .integer(let value): String(value)
        case .string(let value): TOMLText.quoted(value)
        case .strings(let values): "[" + values.map(TOMLText.quoted).joined(separator: ", ") + "]"
        case .unset: "\"\""
        }
    }
}

extension ConfigKey {
    static func named(_ name: String) -> ConfigKey? {
        RoarConfig.keys.first { $0.name == name }
    }

    static var sections: [String] {
        var sections: [String] = []
        for key in RoarConfig.keys where !sections.contains(key.section) {
            sections.append(key.section)
        }
        return sections
    }

    static func fields(inSection section: String) -> [String] {
        RoarConfig.keys.filter { $0.section == section }.map(\.field)
    }

    func value(in config: RoarConfig) -> SettingValue {
        switch name {
        case "ray.enabled": .boolean(config.ray.isEnabled)
        case "ray.actor_attribution": .string(config.ray.actorAttribution.rawValue)
        case "filters.ignore": .strings(config.filters.ignore)
        case "filters.include": .strings(config.filters.include)
        case "filters.ignore_tmp": .boolean(config.filters.ignoresTemporaryDirectories)
        case "hash.algorithm": .string(config.hash.algorithm.rawValue)
        case "run.flush_ms": .integer(config.run.flushMilliseconds)
        case "glaas.url": config.glaas.url.map(SettingValue.string) ?? .unset
        default: preconditionFailure("ConfigKey \(name) has no accessor")
        }
    }

    /// Stores a value that ``check(_:subject:)`` accepted.
    func assign(_ value: SettingValue, to config: inout RoarConfig) {
        switch (name, value) {
        case ("ray.enabled", .boolean(let value)): config.ray.isEnabled = value
        case ("ray.actor_attribution", .string(let value)):
            config.ray.actorAttribution = RoarConfig.ActorAttribution(rawValue: value) ?? .perCall
        case ("filters.ignore", .strings(let value)): config.filters.ignore = value
        case ("filters.include", .strings(let value)): config.filters.include = value
        case ("filters.ignore_tmp", .boolean(let value)): config.filters.ignoresTemporaryDirectories = value
        case ("hash.algorithm", .string(let value)):
            config.hash.algorithm = RoarConfig.HashAlgorithm(rawValue: value) ?? .blake3
        case ("run.flush_ms", .integer(let value)): config.run.flushMilliseconds = value
        case ("glaas.url", .string(let value)): config.glaas.url = value
        case ("glaas.url", .unset): config.glaas.url = nil
        default: preconditionFailure("ConfigKey \(name) cannot hold \(value)")
        }
    }

    /// What the value must be, for messages: `"per_call" or "per_actor"`.
    var requirement: String {
        switch kind {
        case .boolean: "true or false"
        case .integer(let range): "an integer from \(range.lowerBound) to \(range.upperBound)"
        case .choice(let choices): Self.alternatives(choices.map { "\"\($0)\"" })
        case .url: "an http or https URL such as \"https://glaas.example.com\""
        case .pathList: "an array of path prefixes such as [\"/data/cache\"]"
        }
    }

    /// `subject must be <requirement>, got <got>`.
    func mismatch(_ subject: String, got: String) -> String {
        "\(subject) must be \(requirement), got \(got)"
    }

    /// Checks a value of the right shape against the key's rules; returns what is wrong.
    func check(_ value: SettingValue, subject: String) -> String? {
        switch (kind, value) {
        case (.boolean, .boolean): return nil
        case (.integer(let range), .integer(let number)):
            return range.contains(number) ? nil : mismatch(subject, got: String(number))
        case (.choice(let choices), .string(let text)):
            return choices.contains(text) ? nil : mismatch(subject, got: TOMLText.quoted(text))
        case (.url, .unset): return nil
        case (.url, .string(let text)):
            return URLCheck.isHTTP(text) ? nil : mismatch(subject, got: TOMLText.quoted(text))
        case (.pathList, .strings(let paths)):
            for path in paths {
                if path.isEmpty { return "\(subject) must not contain an empty path" }
                if path.hasPrefix("~") {
                    return "\(subject): \(TOMLText.quoted(path)) starts with '~', which roar does not expand;"
                        + " write the absolute path or one relative to the project root"
                }
                if path.contains("\0") { return "\(subject) must not contain NUL characters" }
            }
            return nil
        default:
            return mismatch(subject, got: value.tomlLiteral)
        }
    }

    /// Reads a value typed by a person (`roar config set`, an environment variable).
    ///
    /// Booleans: `true`/`false` (also `1`/`0`, `yes`/`no`, `on`/`off`). Integers in decimal.
    /// Strings with or without TOML quotes; for `glaas.url` the empty string means unset. Path
    /// lists: a TOML array (`["/a", "/b"]`) or a `:`-separated list (`/a:/b`); empty is `[]`.
    func parse(_ text: String, subject: String) -> Result<SettingValue, ConfigProblem> {
        let value: SettingValue
        switch kind {
        case .boolean:
            switch text.lowercased() {
            case "true", "1", "yes", "on": value = .boolean(true)
            case "false", "0", "no", "off": value = .boolean(false)
            default: return .failure(ConfigProblem(mismatch(subject, got: TOMLText.quoted(text))))
            }
        case .integer:
            guard let number = Int(text) else {
                return .failure(ConfigProblem(mismatch(subject, got: TOMLText.quoted(text))))
            }
            value = .integer(number)
        case .choice, .url:
            guard let string = TOMLText.unquoted(text) else {
                return .failure(
                    ConfigProblem("\(subject): \(text) is not a valid TOML string; quote it or leave the quotes out"))
            }
            value = (kind == .url && string.isEmpty) ? .unset : .string(string)
        case .pathList:
            if text.hasPrefix("[") {
                guard let paths = TOMLText.stringArray(text) else {
                    return .failure(ConfigProblem(mismatch(subject, got: text)))
                }
                value = .strings(paths)
            } else {
                value = .strings(text.split(separator: ":").map(String.init))
            }
        }
        if let problem = check(value, subject: subject) { return .failure(ConfigProblem(problem)) }
        return .success(value)
    }

    static func alternatives(_ items: [String]) -> String {
        switch items.count {
        case 0: ""
        case 1: items[0]
        default: items.dropLast().joined(separator: ", ") + " or " + items[items.count - 1]
        }
    }
}

/// A message about a value, before it is placed in a file and line.
struct ConfigProblem: Error {
    var message: String
    init(_ message: String) { self.message = message }
}
