import Foundation
public import RoarCore

/// Hides secrets in what roar records: the command line of a run and its environment.
/// A secret value becomes `***`; the name next to it stays, so the record still says which
/// credential was used.
///
/// Secret names (compared upper-cased, `-` read as `_`): `AWS_SECRET_ACCESS_KEY`,
/// `AWS_SESSION_TOKEN`, `AWS_ACCESS_KEY_ID`, `RAY_AUTH_TOKEN`, `TOKEN` and `*_TOKEN`, anything
/// containing `SECRET`, `PASSWORD` or `PASSWD`, `*_API_KEY`, `ROAR_*KEY*`, and (in headers)
/// `AUTHORIZATION`, `PROXY_AUTHORIZATION`, `COOKIE`.
public enum SecretRedactor {
    public static let mask = "***"

    public static func isSecretName(_ name: String) -> Bool {
        let upper = name.uppercased().replacingOccurrences(of: "-", with: "_")
        let exact: Set<String> = [
            "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_ACCESS_KEY_ID", "RAY_AUTH_TOKEN", "TOKEN",
            "AUTHORIZATION", "PROXY_AUTHORIZATION", "COOKIE",
        ]
        return exact.contains(upper) || upper.hasSuffix("_TOKEN") || upper.contains("SECRET")
            || upper.contains("PASSWORD") || upper.contains("PASSWD") || upper.hasSuffix("_API_KEY")
            || (upper.hasPrefix("ROAR_") && upper.contains("KEY"))
    }

    /// The environment with secret values masked, and passwords in URLs masked in every value.
    public static func redact(environment: [String: String]) -> [String: String] {
        environment.reduce(into: [:]) { result, entry in
            result[entry.key] = isSecretName(entry.key) ? mask : redactURLPasswords(entry.value)
        }
    }

    /// The command line as one shell-quoted string, secrets masked:
    /// `NAME=value` words and `--name value`/`--name=value` options with a secret name; the JSON
    /// of `ray job submit`'s `--headers` (secret headers), `--runtime-env-json` (every
    /// `env_vars` value, and secret keys anywhere) and its other JSON options (secret keys);
    /// passwords in URLs (`scheme://user:***@host`).
    public static func redact(argv: [String]) -> String {
        ShellQuoting.join(redactedArguments(argv))
    }

    /// `redact(argv:)` before joining.
    public static func redactedArguments(_ argv: [String]) -> [String] {
        var result: [String] = []
        var pendingOption: String?
        for word in argv {
            if let option = pendingOption {
                pendingOption = nil
                result.append(redactValue(word, ofOption: option))
                continue
            }
            if word.hasPrefix("-"), word.count > 1, word != "--" {
                let name = String(word.drop { $0 == "-" })
                if let equals = name.firstIndex(of: "=") {
                    let optionName = "--" + name[..<equals]
                    let value = String(name[name.index(after: equals)...])
                    result.append(optionName + "=" + redactValue(value, ofOption: optionName))
                } else {
                    result.append(redactURLPasswords(word))
                    let optionName = "--" + name
                    if isSecretName(name) || jsonOptions.contains(optionName) { pendingOption = optionName }
                }
                continue
            }
            if let equals = word.firstIndex(of: "="), isEnvironmentName(word[..<equals]) {
                let name = String(word[..<equals])
                let value = String(word[word.index(after: equals)...])
                result.append(name + "=" + (isSecretName(name) ? mask : redactURLPasswords(value)))
                continue
            }
            result.append(redactURLPasswords(word))
        }
        return result
    }

    /// `ray job submit`'s options whose value is JSON (`RaySubmitCommand.Option.hasJSONValue`
    /// in RoarRaySubmit; a test there keeps the two lists equal).
    static let jsonOptions: Set<String> = [
        headersOption, runtimeEnvironmentJSONOption, "--metadata-json", "--entrypoint-resources",
        "--entrypoint-label-selector",
    ]
    static let headersOption = "--headers"
    static let runtimeEnvironmentJSONOption = "--runtime-env-json"

    private static func redactValue(_ value: String, ofOption option: String) -> String {
        let name = String(option.drop { $0 == "-" })
        if isSecretName(name) { return mask }
        guard jsonOptions.contains(option) else { return redactURLPasswords(value) }
        guard let json = RuntimeEnvironmentValue.decode(json: value) else {
            // Not JSON: Ray refuses it anyway; keep nothing that could be a secret.
            return option == headersOption || option == runtimeEnvironmentJSONOption ? mask : redactURLPasswords(value)
        }
        let isRuntimeEnvironment = option == runtimeEnvironmentJSONOption
        return redact(json: json, masksEnvironmentVariables: isRuntimeEnvironment).jsonText
    }

    /// Masks values under secret keys at any depth; under `env_vars` (of a runtime_env) every value.
    static func redact(json: RuntimeEnvironmentValue, masksEnvironmentVariables: Bool) -> RuntimeEnvironmentValue {
        switch json {
        case .object(let map):
            var result: [String: RuntimeEnvironmentValue] = [:]
            for (key, value) in map {
                if isSecretName(key) {
                    result[key] = .string(mask)
                } else if masksEnvironmentVariables && key == "env_vars", let variables = value.objectValue {
                    result[key] = .object(variables.mapValues { _ in .string(mask) })
                } else {
                    result[key] = redact(json: value, masksEnvironmentVariables: masksEnvironmentVariables)
                }
            }
            return .object(result)
        case .array(let items):
            return .array(items.map { redact(json: $0, masksEnvironmentVariables: masksEnvironmentVariables) })
        case .string(let text):
            return .string(redactURLPasswords(text))
        default:
            return json
        }
    }

    /// `https://user:pass@host/…` → `https://user:***@host/…`, wherever it appears in the text.
    public static func redactURLPasswords(_ text: String) -> String {
        guard text.contains("://"), text.contains("@") else { return text }
        var result = ""
        var rest = Substring(text)
        while let schemeEnd = rest.range(of: "://") {
            result += rest[..<schemeEnd.upperBound]
            rest = rest[schemeEnd.upperBound...]
            let authorityEnd = rest.firstIndex { "/?# '\"".contains($0) } ?? rest.endIndex
            let authority = rest[..<authorityEnd]
            if let at = authority.lastIndex(of: "@"), let colon = authority[..<at].firstIndex(of: ":") {
                result += authority[...colon] + mask + authority[at...]
            } else {
                result += authority
            }
            rest = rest[authorityEnd...]
        }
        return result + rest
    }

    private static func isEnvironmentName(_ name: Substring) -> Bool {
        guard let first = name.first, first.isLetter || first == "_" else { return false }
        return name.allSatisfy { ($0.isASCII && ($0.isLetter || $0.isNumber)) || $0 == "_" }
    }
}
