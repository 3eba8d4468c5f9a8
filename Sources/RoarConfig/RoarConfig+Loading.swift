import Foundation
import TOMLKit

extension RoarConfig {
    /// Reads and validates `roar.toml`. A missing file gives ``default``; keys left out keep
    /// their defaults.
    ///
    /// Relative paths in `filters.ignore`/`filters.include` are resolved against the folder
    /// holding the file (the project root).
    ///
    /// - Throws: ``ConfigError`` naming the file, the line and the key: `.syntax` for invalid
    ///   TOML (with TOMLKit's line and column), `.unknownKey` for a section or key roar does not
    ///   know, `.badValue` for a wrong type or value, `.unreadable` when the file exists but
    ///   cannot be read. When several keys are wrong, the first in the file is reported.
    public static func load(fromFile path: String) throws(ConfigError) -> RoarConfig {
        guard let contents = try ConfigFile.read(path) else { return .default }
        return try parse(contents, file: path)
    }

    /// Validates the text of a `roar.toml`; `file` names it in errors and locates relative paths.
    public static func parse(_ contents: String, file: String = RoarConfig.fileName) throws(ConfigError) -> RoarConfig {
        let document = try ConfigDocument(contents, file: file)
        if let problem = document.problems.first { throw problem }
        return document.config
    }
}

/// A `roar.toml` text that TOMLKit accepted, the settings read from it and every problem found.
struct ConfigDocument {
    let file: String
    let layout: TOMLLayout
    let config: RoarConfig
    /// Unknown sections and keys and bad values, in file order.
    let problems: [ConfigError]

    /// - Throws: ``ConfigError`` `.syntax` when the text is not TOML.
    init(_ contents: String, file: String) throws(ConfigError) {
        let table = try Self.parseTOML(contents, file: file)
        let layout = TOMLLayout(contents)
        let baseDirectory = URL(fileURLWithPath: file).deletingLastPathComponent().path
        var config = RoarConfig.default
        var problems: [ConfigError] = []

        for (sectionName, sectionValue) in table {
            let sectionLine = layout.line(of: [sectionName])
            guard ConfigKey.sections.contains(sectionName) else {
                problems.append(
                    sectionValue.type == .table
                        ? .unknownSection(sectionName, file: file, line: sectionLine)
                        : .topLevelKey(sectionName, file: file, line: sectionLine))
                continue
            }
            guard sectionValue.type == .table, let section = sectionValue.table else {
                problems.append(
                    ConfigError(
                        code: .badValue, file: file, line: sectionLine, key: sectionName,
                        message: "\(sectionName) must be a table: write [\(sectionName)] on a line of its own"
                            + " with its keys below it, got \(TOMLText.rendered(sectionValue))"))
                continue
            }
            for (field, value) in section {
                let name = sectionName + "." + field
                let line = layout.line(of: [sectionName, field])
                guard let key = ConfigKey.named(name) else {
                    problems.append(.unknownKey(name, file: file, line: line))
                    continue
                }
                switch key.decode(value, subject: name, baseDirectory: baseDirectory) {
                case .success(let setting): key.assign(setting, to: &config)
                case .failure(let problem):
                    problems.append(
                        ConfigError(code: .badValue, file: file, line: line, key: name, message: problem.message))
                }
            }
        }
        self.file = file
        self.layout = layout
        self.config = config
        self.problems = problems.enumerated()
            .sorted { ($0.element.line ?? .max, $0.offset) < ($1.element.line ?? .max, $1.offset) }
            .map(\.element)
    }

    private static func parseTOML(_ contents: String, file: String) throws(ConfigError) -> TOMLTable {
        if let nul = contents.utf8.firstIndex(of: 0) {
            let line = contents.utf8[..<nul].count { $0 == UInt8(ascii: "\n") } + 1
            throw ConfigError(
                code: .syntax, file: file, line: line,
                message: "not valid TOML: the file holds a NUL byte; save it as plain UTF-8 text")
        }
        do {
            return try TOMLTable(string: contents)
        } catch let error as TOMLParseError {
            var reason = error.description
            if let first = reason.first { reason = first.lowercased() + reason.dropFirst() }
            reason = reason.replacingOccurrences(of: "\r", with: "\\r").replacingOccurrences(of: "\n", with: "\\n")
            throw ConfigError(
                code: .syntax, file: file, line: error.source.begin.line, column: error.source.begin.column,
                message: "not valid TOML: \(reason); fix this line", underlyingError: error)
        } catch {
            throw ConfigError(
                code: .syntax, file: file, message: "not valid TOML: \(error)", underlyingError: error)
        }
    }
}

extension ConfigKey {
    /// Reads a value from the TOML document, checks it, and makes relative paths absolute.
    func decode(
        _ value: any TOMLValueConvertible, subject: String, baseDirectory: String
    ) -> Result<SettingValue, ConfigProblem> {
        let setting: SettingValue?
        switch kind {
        case .boolean: setting = value.bool.map(SettingValue.boolean)
        case .integer: setting = value.type == .int ? value.int.map(SettingValue.integer) : nil
        case .choice, .url: setting = value.string.map(SettingValue.string)
        case .pathList:
            if let array = value.array {
                let strings = array.compactMap(\.string)
                setting = strings.count == array.count ? .strings(strings) : nil
            } else {
                setting = nil
            }
        }
        guard let setting else {
            return .failure(ConfigProblem(mismatch(subject, got: TOMLText.rendered(value))))
        }
        if let problem = check(setting, subject: subject) { return .failure(ConfigProblem(problem)) }
        if case .strings(let paths) = setting {
            return .success(.strings(paths.map { ConfigPath.absolute($0, relativeTo: baseDirectory) }))
        }
        return .success(setting)
    }
}

enum ConfigPath {
    /// `path` when absolute; otherwise `base/path` with `.` and `..` resolved.
    static func absolute(_ path: String, relativeTo base: String) -> String {
        guard !path.hasPrefix("/") else { return path }
        var components: [Substring] = []
        for component in (base + "/" + path).split(separator: "/") {
            switch component {
            case ".": continue
            case "..": _ = components.popLast()
            default: components.append(component)
            }
        }
        return "/" + components.joined(separator: "/")
    }
}

/// Reading and writing the file itself.
enum ConfigFile {
    /// The file's text, or `nil` when there is no file.
    static func read(_ path: String) throws(ConfigError) -> String? {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else { return nil }
        guard !isDirectory.boolValue else {
            throw ConfigError(
                code: .unreadable, file: path,
                message: "cannot read the settings: this is a directory; roar.toml must be a file")
        }
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw ConfigError(
                code: .unreadable, file: path,
                message: "cannot read the settings (\(error.localizedDescription)); check the file's permissions",
                underlyingError: error)
        }
        guard let contents = String(data: data, encoding: .utf8) else {
            throw ConfigError(
                code: .unreadable, file: path, message: "cannot read the settings: not UTF-8 text; save it as UTF-8")
        }
        return contents
    }

    /// Replaces the file atomically (write aside, then rename), keeping its permissions and
    /// writing through a symbolic link to its target.
    static func write(_ contents: String, to path: String) throws(ConfigError) {
        let target = URL(fileURLWithPath: path).resolvingSymlinksInPath()
        let permissions = try? FileManager.default.attributesOfItem(atPath: target.path)[.posixPermissions]
        do {
            try Data(contents.utf8).write(to: target, options: .atomic)
        } catch {
            throw ConfigError(
                code: .unwritable, file: path,
                message: "cannot write the settings (\(error.localizedDescription)); check that the folder is writable",
                underlyingError: error)
        }
        if let permissions {
            try? FileManager.default.setAttributes([.posixPermissions: permissions], ofItemAtPath: target.path)
        }
    }
}
