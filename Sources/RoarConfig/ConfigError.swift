// RoarConfig: `roar.toml` — the keys and their defaults (ConfigKey), loading and validation with errors that
// name the file, line and key, the environment overrides, and editing that keeps the user's layout (TOMLLayout).

/// Why `roar.toml` could not be read, validated or written, and where.
///
/// The `description` is the message a user sees: it names the file, the line and the key that
/// were wrong and says what to do, e.g.
/// `roar.toml:7: unknown key 'ray.actor_atribution' (did you mean 'ray.actor_attribution'?)`.
///
/// Not errors: a missing `roar.toml` (the defaults apply) and keys left out of the file (their
/// defaults apply).
public struct ConfigError: Error, CustomStringConvertible {
    public enum Code: String, Sendable, Hashable, CaseIterable {
        /// A section or key that roar does not know (a typo, or a setting of another version).
        case unknownKey
        /// A known key with a value of the wrong type or outside its allowed values.
        case badValue
        /// The file is not valid TOML.
        case syntax
        /// The file exists but could not be read (permissions, a directory, not UTF-8).
        case unreadable
        /// The file could not be written.
        case unwritable
    }

    public var code: Code
    /// The file as the caller named it; `nil` when no file is involved (an environment variable,
    /// or `value(forKey:)`).
    public var file: String?
    /// 1-based line in `file`, when the problem is on one line.
    public var line: Int?
    /// 1-based column, for syntax errors.
    public var column: Int?
    /// The dotted key (`ray.actor_attribution`) or section (`ray`) concerned.
    public var key: String?
    /// What was wrong and what to do, without the `file:line:` prefix.
    public var message: String
    /// The error from the file system or the TOML parser, when there was one.
    public var underlyingError: (any Error)?

    public init(
        code: Code, file: String? = nil, line: Int? = nil, column: Int? = nil, key: String? = nil,
        message: String, underlyingError: (any Error)? = nil
    ) {
        self.code = code
        self.file = file
        self.line = line
        self.column = column
        self.key = key
        self.message = message
        self.underlyingError = underlyingError
    }

    /// `file:line:column: message`, leaving out the parts that are unknown.
    public var description: String {
        var location = file ?? ""
        if let line {
            location += ":\(line)"
            if let column { location += ":\(column)" }
        }
        return location.isEmpty ? message : "\(location): \(message)"
    }
}
