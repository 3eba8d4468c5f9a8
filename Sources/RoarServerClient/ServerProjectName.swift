import Foundation

/// Project names on a lineage server: 1 to 128 of `A-Z a-z 0-9 _ . -`, not starting with `.`
/// (docs/server-api.md). A client that is given none uses the project folder's name.
public enum ServerProjectName {
    public static let rule = "use 1 to 128 of A-Z a-z 0-9 _ . -, not starting with ."

    public static func isValid(_ name: String) -> Bool {
        !name.isEmpty && name.utf8.count <= 128 && !name.hasPrefix(".")
            && name.utf8.allSatisfy { $0 < 0x80 && ($0 == 0x2D || $0 == 0x5F || $0 == 0x2E || isalnum(Int32($0)) != 0) }
    }

    /// The folder's name with what a project name cannot hold replaced by `-`.
    public static func derived(fromDirectory directory: String) -> String {
        let base = (directory as NSString).lastPathComponent
        let cleaned = String(
            base.map { character -> Character in
                character.isASCII && (character.isLetter || character.isNumber || "-_.".contains(character))
                    ? character : "-"
            }
        ).trimmingCharacters(in: CharacterSet(charactersIn: "."))
        return cleaned.isEmpty ? "project" : String(cleaned.prefix(128))
    }
}
