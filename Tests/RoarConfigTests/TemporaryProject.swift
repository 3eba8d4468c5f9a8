import Foundation

/// A fresh project folder under the system temporary directory, removed when released.
final class TemporaryProject {
    let root: String
    var configPath: String { root + "/roar.toml" }

    init() throws {
        root =
            FileManager.default.temporaryDirectory
            .appendingPathComponent("roar-config-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
    }

    deinit {
        try? FileManager.default.removeItem(atPath: root)
    }

    func write(_ contents: String) throws {
        try Data(contents.utf8).write(to: URL(fileURLWithPath: configPath))
    }

    func contents() throws -> String {
        try String(decoding: Data(contentsOf: URL(fileURLWithPath: configPath)), as: UTF8.self)
    }
}
