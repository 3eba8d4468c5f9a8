import Foundation
import RoarCore

#if canImport(Glibc)
    import Glibc
#endif

/// The tokens `roar login` stored, per server URL, in a file only its owner can read (0600):
/// `$ROAR_CREDENTIALS`, else `$XDG_CONFIG_HOME/roar/credentials.json`, else
/// `~/.config/roar/credentials.json`. Outside every project: a token must never be committed.
/// `ROAR_TOKEN` overrides the file for every server.
public struct ServerCredentials: Sendable {
    public var path: String
    public var tokens: [String: String]

    public static func defaultPath(environment: [String: String]) -> String {
        if let explicit = environment["ROAR_CREDENTIALS"], !explicit.isEmpty { return explicit }
        let config =
            environment["XDG_CONFIG_HOME"].flatMap { $0.isEmpty ? nil : $0 }
            ?? (environment["HOME"] ?? "/") + "/.config"
        return config + "/roar/credentials.json"
    }

    public static func load(environment: [String: String]) throws(ClientError) -> ServerCredentials {
        let path = defaultPath(environment: environment)
        guard let bytes = try? FileSystem.contents(of: path) else {
            return ServerCredentials(path: path, tokens: [:])
        }
        guard let document = try? JSONDecoder().decode(Document.self, from: Data(bytes)) else {
            throw ClientError(
                .credentials, "\(path) is not a roar credentials file: fix it or delete it and `roar login` again")
        }
        return ServerCredentials(path: path, tokens: document.servers.mapValues(\.token))
    }

    /// The token for `server`: `ROAR_TOKEN` when set, else the stored one.
    public func token(for server: String, environment: [String: String]) -> String? {
        if let token = environment["ROAR_TOKEN"], !token.isEmpty { return token }
        return tokens[Self.key(server)]
    }

    public mutating func store(token: String, for server: String) throws(ClientError) {
        tokens[Self.key(server)] = token
        let document = Document(servers: tokens.mapValues { Document.Entry(token: $0) })
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        do {
            try FileManager.default.createDirectory(
                atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true,
                attributes: [.posixPermissions: 0o700])
            let temporary = path + ".tmp"
            let descriptor = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
            guard descriptor >= 0 else { throw ClientError(.credentials, "cannot write \(temporary): errno \(errno)") }
            let bytes = Array(try encoder.encode(document))
            let written = bytes.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
            fchmod(descriptor, 0o600)
            close(descriptor)
            guard written == bytes.count, rename(temporary, path) == 0 else {
                throw ClientError(.credentials, "cannot write \(path): errno \(errno)")
            }
        } catch let error as ClientError {
            throw error
        } catch {
            throw ClientError(.credentials, "cannot write \(path): \(error)")
        }
    }

    /// Servers are keyed without a trailing slash.
    static func key(_ server: String) -> String {
        server.hasSuffix("/") ? String(server.dropLast()) : server
    }

    struct Document: Codable {
        struct Entry: Codable { var token: String }
        var servers: [String: Entry]
    }
}
