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

    /// The first structural error toml++ does not survive: a table header whose name does not
    /// start with a key (a bare key character or a quote), e.g. `[` at the end of a line or `[{`;
    /// a `]` or `}` that closes nothing or closes the other kind of bracket (`[1, }`).
    ///
    /// Refused before TOMLKit: on these toml++ asserts (aborts, or with assertions off assumes)
    /// what it expects next (`parse_key`, `parse_value` in toml.hpp). A header is a `[` first on a
    /// line outside strings, comments, arrays and inline tables.
    static func structuralProblem(in bytes: [UInt8]) -> (line: Int, column: Int, message: String)? {
        // A byte order mark (which toml++ skips) does not start the first line.
        var index = bytes.starts(with: [0xEF, 0xBB, 0xBF]) ? 3 : 0
        var line = 1
        var lineStart = index
        var isLineStart = true
        var open: [UInt8] = []
        func at(_ offset: Int) -> UInt8? { offset < bytes.count ? bytes[offset] : nil }
        func isSpace(_ byte: UInt8?) -> Bool { byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") }
        while index < bytes.count {
            let byte = bytes[index]
            switch byte {
            case UInt8(ascii: "\n"):
                index += 1
                line += 1
                lineStart = index
                isLineStart = true
                continue
            case UInt8(ascii: " "), UInt8(ascii: "\t"), UInt8(ascii: "\r"):
                index += 1
                continue
            case UInt8(ascii: "#"):
                while index < bytes.count, bytes[index] != UInt8(ascii: "\n") { index += 1 }
                continue
            case UInt8(ascii: "\""), UInt8(ascii: "'"):
                // A string: skip to its end, counting the lines of a multi-line one.
                let isMultiline = at(index + 1) == byte && at(index + 2) == byte
                index += isMultiline ? 3 : 1
                while index < bytes.count {
                    let next = bytes[index]
                    if next == UInt8(ascii: "\\") && byte == UInt8(ascii: "\"") {
                        if at(index + 1) == UInt8(ascii: "\n") {
                            line += 1
                            lineStart = index + 2
                        }
                        index += 2
                        continue
                    }
                    if next == UInt8(ascii: "\n") {
                        if !isMultiline { break }
                        line += 1
                        lineStart = index + 1
                    }
                    if next == byte && (!isMultiline || (at(index + 1) == byte && at(index + 2) == byte)) {
                        index += isMultiline ? 3 : 1
                        break
                    }
                    index += 1
                }
            case UInt8(ascii: "[") where isLineStart && open.isEmpty:
                let column = index - lineStart + 1
                var name = index + 1
                open.append(byte)
                while isSpace(at(name)) { name += 1 }
                if at(name) == UInt8(ascii: "["), name == index + 1 {
                    open.append(byte)
                    name += 1
                    while isSpace(at(name)) { name += 1 }
                }
                if let first = at(name), !isKeyStart(first), first != UInt8(ascii: "]") {
                    return (
                        line, column,
                        "a table header must name a table: `[name]`, `[a.b]` or `[\"quoted\"]`; fix this line"
                    )
                }
                index = name
            case UInt8(ascii: "["), UInt8(ascii: "{"):
                open.append(byte)
                index += 1
            case UInt8(ascii: "]"), UInt8(ascii: "}"):
                let opener = byte == UInt8(ascii: "]") ? UInt8(ascii: "[") : UInt8(ascii: "{")
                guard open.last == opener else {
                    let closer = Character(Unicode.Scalar(byte))
                    return (
                        line, index - lineStart + 1,
                        open.isEmpty
                            ? "`\(closer)` closes nothing; fix this line"
                            : "`\(closer)` where `\(Character(Unicode.Scalar(open.last!)))` is still open; fix this line"
                    )
                }
                open.removeLast()
                index += 1
            default:
                index += 1
            }
            isLineStart = false
        }
        return nil
    }

    static func isKeyStart(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "_"), UInt8(ascii: "-"), UInt8(ascii: "\""),
            UInt8(ascii: "'"):
            true
        default: false
        }
    }

    /// U+0000–U+0008, U+000B, U+000C, U+000E–U+001F and U+007F.
    static func isForbiddenControl(_ byte: UInt8) -> Bool {
        (byte < 0x20 && byte != 0x09 && byte != 0x0A && byte != 0x0D) || byte == 0x7F
    }

    private static func parseTOML(_ contents: String, file: String) throws(ConfigError) -> TOMLTable {
        // TOML allows no control character but tab, newline and carriage return, not even in a
        // string or a comment. Refused here, before TOMLKit: toml++ asserts (aborts) on some of them
        // in a table header, and a NUL would end its C string early.
        if let control = contents.utf8.firstIndex(where: Self.isForbiddenControl) {
            let before = contents.utf8[..<control]
            let line = before.count { $0 == UInt8(ascii: "\n") } + 1
            let lineStart = before.lastIndex(of: UInt8(ascii: "\n")).map { contents.utf8.index(after: $0) }
            let column = contents.utf8[(lineStart ?? contents.utf8.startIndex)..<control].count + 1
            let byte = contents.utf8[control]
            let hex = String(byte, radix: 16, uppercase: true)
            let what = byte == 0 ? "a NUL byte" : "the control character U+00\(hex.count < 2 ? "0" : "")\(hex)"
            throw ConfigError(
                code: .syntax, file: file, line: line, column: column,
                message: "not valid TOML: the file holds \(what); TOML allows only tab, newline and carriage return"
                    + " (write other control characters as \\u escapes); save it as plain UTF-8 text")
        }
        if let problem = structuralProblem(in: Array(contents.utf8)) {
            throw ConfigError(
                code: .syntax, file: file, line: problem.line, column: problem.column,
                message: "not valid TOML: " + problem.message)
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
