import Foundation
public import RoarCapture

/// A `ray job submit …` command line, read the way Ray 2.60's click parser reads it
/// (`ray/dashboard/modules/job/cli.py`): long options as `--opt value` or `--opt=value`, options
/// anywhere before `--` (click allows them between entrypoint words), the entrypoint as every
/// other word, and everything after the first `--` as entrypoint words.
///
/// Recognised launchers: `ray …` (any path whose last component is `ray`) and
/// `python[3[.x]] [-u|-B|…] -m ray.scripts.scripts …`. Ray's own top-level options
/// `--logging-level`/`--logging-format` may come before `job`.
public struct RaySubmitCommand: Sendable, Equatable {
    /// Every option of `ray job submit` in Ray 2.60 (`ray job submit --help`).
    public enum Option: String, Sendable, CaseIterable {
        case address = "--address"
        /// Deprecated alias of `--submission-id`; Ray uses it when `--submission-id` is absent.
        case jobID = "--job-id"
        case submissionID = "--submission-id"
        /// Path to a YAML file holding a runtime_env.
        case runtimeEnvironmentFile = "--runtime-env"
        case runtimeEnvironmentJSON = "--runtime-env-json"
        case workingDirectory = "--working-dir"
        case metadataJSON = "--metadata-json"
        case entrypointCPUs = "--entrypoint-num-cpus"
        case entrypointGPUs = "--entrypoint-num-gpus"
        case entrypointMemory = "--entrypoint-memory"
        case entrypointResources = "--entrypoint-resources"
        case entrypointLabelSelector = "--entrypoint-label-selector"
        case noWait = "--no-wait"
        case verify = "--verify"
        case headers = "--headers"
        case logStyle = "--log-style"
        case logColor = "--log-color"
        /// `-v`, `-vv`, `--verbose` (a count).
        case verbose = "--verbose"

        public var takesValue: Bool { self != .noWait && self != .verbose }

        /// Options whose values are JSON (their secrets are redacted key by key).
        public var hasJSONValue: Bool {
            switch self {
            case .runtimeEnvironmentJSON, .metadataJSON, .entrypointResources, .entrypointLabelSelector, .headers:
                true
            default: false
            }
        }
    }

    /// One option as given; `value` is `nil` for the flags `--no-wait` and `--verbose`.
    public struct Setting: Sendable, Equatable {
        public var option: Option
        public var value: String?

        public init(_ option: Option, _ value: String? = nil) {
            self.option = option
            self.value = value
        }
    }

    /// What `recognition(_:)` found.
    public enum Recognition: Sendable, Equatable {
        case recognised(RaySubmitCommand)
        /// Not `ray job submit` at all: trace the command as any other.
        case notASubmit
        /// A `ray job submit` roar will not rewrite (unknown option, a form Ray itself refuses,
        /// `--help`): run it untraced and print the reason as a warning.
        case unsupported(reason: String)
    }

    /// The words that start Ray's CLI: `["ray"]`, `["/opt/bin/ray"]`,
    /// `["python3", "-m", "ray.scripts.scripts"]`.
    public var program: [String]
    /// Ray's top-level options given before the `job` word (`--logging-level debug`).
    public var globalArguments: [String]
    /// `job`, or `jobs` as the user wrote it (Ray 2.60 itself only knows `job`).
    public var groupName: String
    /// The options of `submit`, in the order given.
    public var settings: [Setting]
    /// The command Ray runs as the job's driver; never empty.
    public var entrypoint: [String]

    public init(
        program: [String], globalArguments: [String] = [], groupName: String = "job", settings: [Setting],
        entrypoint: [String]
    ) {
        self.program = program
        self.globalArguments = globalArguments
        self.groupName = groupName
        self.settings = settings
        self.entrypoint = entrypoint
    }

    /// The value click would use: the last one given.
    public func value(of option: Option) -> String? {
        settings.last { $0.option == option }?.value
    }

    public func has(_ option: Option) -> Bool {
        settings.contains { $0.option == option }
    }

    public var isNoWait: Bool { has(.noWait) }

    public var verbosity: Int { settings.count { $0.option == .verbose } }

    /// The submission id Ray will use: `--submission-id`, else the deprecated `--job-id`.
    public var submissionID: String? { value(of: .submissionID) ?? value(of: .jobID) }

    /// The command line again, in one canonical form: `--opt=value`, `-v` per verbosity level,
    /// and `--` before the entrypoint.
    public var arguments: [String] {
        var words = program + globalArguments + [groupName, "submit"]
        for setting in settings {
            if let value = setting.value {
                words.append(setting.option.rawValue + "=" + value)
            } else if setting.option == .verbose {
                words.append("-v")
            } else {
                words.append(setting.option.rawValue)
            }
        }
        return words + ["--"] + entrypoint
    }

    /// The command, or `nil` when `argv` is not a `ray job submit` roar can rewrite
    /// (`recognition(_:)` says why).
    public static func parse(_ argv: [String]) -> RaySubmitCommand? {
        if case .recognised(let command) = recognition(argv) { return command }
        return nil
    }

    public static func recognition(_ argv: [String]) -> Recognition {
        guard let (program, rest) = splitProgram(argv) else { return .notASubmit }
        var index = 0
        var globalArguments: [String] = []
        while index < rest.count, rest[index].hasPrefix("-") {
            let word = rest[index]
            let name = word.split(separator: "=", maxSplits: 1).first.map(String.init) ?? word
            guard name == "--logging-level" || name == "--logging-format" else {
                if looksLikeSubmit(rest[index...]) {
                    return .unsupported(reason: "`ray \(word)` before `job submit` is not an option roar knows")
                }
                return .notASubmit
            }
            globalArguments.append(word)
            if !word.contains("=") {
                guard index + 1 < rest.count else { return .notASubmit }
                globalArguments.append(rest[index + 1])
                index += 1
            }
            index += 1
        }
        guard index + 1 < rest.count, rest[index] == "job" || rest[index] == "jobs", rest[index + 1] == "submit"
        else { return .notASubmit }
        let groupName = rest[index]
        switch parseSubmitArguments(Array(rest[(index + 2)...])) {
        case .success(let (settings, entrypoint)):
            return .recognised(
                RaySubmitCommand(
                    program: program, globalArguments: globalArguments, groupName: groupName, settings: settings,
                    entrypoint: entrypoint))
        case .failure(let failure):
            return .unsupported(reason: failure.reason)
        }
    }

    private struct Refusal: Error {
        var reason: String
    }

    private static func looksLikeSubmit(_ words: ArraySlice<String>) -> Bool {
        zip(words, words.dropFirst()).contains { ($0 == "job" || $0 == "jobs") && $1 == "submit" }
    }

    /// Splits off the launcher: `ray` or `python -m ray.scripts.scripts`.
    private static func splitProgram(_ argv: [String]) -> (program: [String], rest: [String])? {
        guard let first = argv.first else { return nil }
        let name = lastPathComponent(first)
        if name == "ray" { return ([first], Array(argv.dropFirst())) }
        guard isPythonInterpreter(name) else { return nil }
        // Interpreter flags that take no value, and the two that take one, may precede -m.
        let plainFlags: Set<String> = ["-u", "-B", "-E", "-s", "-S", "-I", "-O", "-OO", "-q", "-b", "-bb", "-P"]
        var index = 1
        while index < argv.count {
            let word = argv[index]
            if plainFlags.contains(word) {
                index += 1
            } else if word == "-X" || word == "-W" {
                index += 2
            } else if word == "-m", index + 1 < argv.count, argv[index + 1] == "ray.scripts.scripts" {
                return (Array(argv[...(index + 1)]), Array(argv[(index + 2)...]))
            } else if word == "-mray.scripts.scripts" {
                return (Array(argv[...index]), Array(argv[(index + 1)...]))
            } else {
                return nil
            }
        }
        return nil
    }

    static func lastPathComponent(_ path: String) -> String {
        path.split(separator: "/", omittingEmptySubsequences: true).last.map(String.init) ?? path
    }

    /// `python`, `python3`, `python3.11` (any folder).
    static func isPythonInterpreter(_ name: String) -> Bool {
        guard name.hasPrefix("python") else { return false }
        let version = name.dropFirst("python".count)
        return version.allSatisfy { $0.isNumber || $0 == "." } && !version.hasPrefix(".")
    }

    private static func parseSubmitArguments(
        _ words: [String]
    ) -> Result<([Setting], [String]), Refusal> {
        var settings: [Setting] = []
        var entrypoint: [String] = []
        var isAfterSeparator = false
        var index = 0
        while index < words.count {
            let word = words[index]
            index += 1
            if isAfterSeparator {
                entrypoint.append(word)
                continue
            }
            if word == "--" {
                isAfterSeparator = true
                continue
            }
            if word.hasPrefix("--") {
                let parts = word.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                let name = String(parts[0])
                let inlineValue = parts.count == 2 ? String(parts[1]) : nil
                guard let option = Option(rawValue: name) else {
                    return .failure(Refusal(reason: unknownOptionReason(name, isInEntrypoint: !entrypoint.isEmpty)))
                }
                if option.takesValue {
                    let value: String
                    if let inlineValue {
                        value = inlineValue
                    } else if index < words.count {
                        value = words[index]
                        index += 1
                    } else {
                        return .failure(Refusal(reason: "`\(name)` needs a value (Ray refuses it too)"))
                    }
                    if let problem = problem(with: value, for: option) {
                        return .failure(Refusal(reason: problem))
                    }
                    settings.append(Setting(option, value))
                } else {
                    guard inlineValue == nil else {
                        return .failure(Refusal(reason: "`\(name)` takes no value (Ray refuses `\(word)` too)"))
                    }
                    settings.append(Setting(option))
                }
            } else if word.hasPrefix("-") && word.count > 1 {
                let letters = word.dropFirst()
                guard letters.allSatisfy({ $0 == "v" }) else {
                    let name = letters.first == "h" ? "-h" : word
                    return .failure(Refusal(reason: unknownOptionReason(name, isInEntrypoint: !entrypoint.isEmpty)))
                }
                settings += Array(repeating: Setting(.verbose), count: letters.count)
            } else {
                entrypoint.append(word)
            }
        }
        guard !entrypoint.isEmpty else {
            return .failure(Refusal(reason: "no entrypoint after the options (Ray requires one)"))
        }
        return .success((settings, entrypoint))
    }

    private static func unknownOptionReason(_ name: String, isInEntrypoint: Bool) -> String {
        if name == "--help" || name == "-h" {
            return "`\(name)` only prints Ray's help; nothing is submitted"
        }
        var reason = "`\(name)` is not an option of `ray job submit` in Ray 2.60"
        if isInEntrypoint {
            reason += "; if it belongs to the entrypoint, put `--` before the entrypoint"
        }
        return reason
    }

    /// The check click makes on the option's type, so roar refuses what Ray would refuse.
    private static func problem(with value: String, for option: Option) -> String? {
        switch option {
        case .entrypointCPUs, .entrypointGPUs:
            let trimmed = value.trimmingCharacters(in: .whitespaces)
            return Double(trimmed) == nil ? "`\(option.rawValue) \(value)`: Ray expects a number" : nil
        case .entrypointMemory:
            let trimmed = value.trimmingCharacters(in: .whitespaces)
            return Int(trimmed) == nil ? "`\(option.rawValue) \(value)`: Ray expects an integer" : nil
        case .logStyle:
            return ["auto", "record", "pretty"].contains(value.lowercased())
                ? nil : "`--log-style \(value)`: Ray accepts auto, record or pretty"
        case .logColor:
            return ["auto", "false", "true"].contains(value.lowercased())
                ? nil : "`--log-color \(value)`: Ray accepts auto, false or true"
        default:
            return nil
        }
    }
}
