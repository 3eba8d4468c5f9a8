import Crypto
import Foundation

/// Bearer tokens: `roar_` and 43 characters of base64url (32 random bytes). The server keeps
/// only their SHA-256, so a copy of its database gives no one a working token.
public enum AccessToken {
    public static let prefix = "roar_"

    /// A new random token.
    public static func generate() -> String {
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<32).map { _ in UInt8.random(in: 0...255, using: &generator) }
        return prefix + Base64URL.encode(bytes)
    }

    /// What the server stores and looks tokens up by: lowercase hex SHA-256 of the token's UTF-8.
    public static func digest(of token: String) -> String {
        SHA256.hash(data: Array(token.utf8)).map { byte in
            let hex = String(byte, radix: 16)
            return byte < 16 ? "0" + hex : hex
        }.joined()
    }

    /// True when `token` has the shape of a roar token (checked before any lookup).
    public static func isWellFormed(_ token: String) -> Bool {
        guard token.hasPrefix(prefix), token.utf8.count == prefix.utf8.count + 43 else { return false }
        return token.utf8.dropFirst(prefix.utf8.count).allSatisfy { byte in
            (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
                || byte == 0x2D || byte == 0x5F
        }
    }
}

/// The content digest of a registered job document: what makes a second `roar register` a no-op.
enum DocumentDigest {
    static func of(_ document: String) -> String {
        AccessToken.digest(of: document)
    }
}

enum Base64URL {
    static func encode(_ bytes: [UInt8]) -> String {
        Data(bytes).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-")
            .replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }
}
