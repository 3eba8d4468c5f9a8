import Foundation
import RoarConfig
import Testing

@Suite("The default roar.toml")
struct DefaultFileTests {
    @Test("loading the default file gives the defaults")
    func roundTrip() throws {
        let project = try TemporaryProject()
        try project.write(RoarConfig.defaultFileContents())
        #expect(try RoarConfig.load(fromFile: project.configPath) == .default)
    }

    @Test("every key is in the default file with its comment")
    func everyKeyDocumented() {
        let contents = RoarConfig.defaultFileContents()
        for key in RoarConfig.keys {
            #expect(contents.contains("[\(key.section)]\n"))
            #expect(contents.contains("# \(key.summary)\n"))
            let line = key.defaultValue.isEmpty ? "# \(key.field) = " : "\(key.field) = "
            #expect(contents.contains("\n" + line), "\(key.name)")
        }
    }

    @Test("setting every key to its default changes nothing in the default file")
    func setDefaultsIsIdentity() throws {
        let project = try TemporaryProject()
        try project.write(RoarConfig.defaultFileContents())
        for key in RoarConfig.keys {
            try RoarConfig.set(key.name, to: key.defaultValue, inFile: project.configPath)
        }
        #expect(try project.contents() == RoarConfig.defaultFileContents())
    }

    @Test("docs/config.md describes every key, its default and its variable")
    func docsCoverEveryKey() throws {
        let docs = URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("docs/config.md")
        let text = try String(decoding: Data(contentsOf: docs), as: UTF8.self)
        for key in RoarConfig.keys {
            #expect(text.contains("`\(key.name)`"), "\(key.name)")
            #expect(text.contains("`\(key.environmentVariable)`"), "\(key.environmentVariable)")
        }
    }
}
