import Foundation
import RoarConfig
import Testing

@Suite("Loading roar.toml")
struct LoadingTests {
    @Test("defaults")
    func defaults() {
        let config = RoarConfig.default
        #expect(config.ray.isEnabled)
        #expect(config.ray.actorAttribution == .perCall)
        #expect(config.filters.ignore.isEmpty)
        #expect(config.filters.include.isEmpty)
        #expect(config.filters.ignoresTemporaryDirectories)
        #expect(config.hash.algorithm == .blake3)
        #expect(config.run.flushMilliseconds == 1000)
        #expect(config.glaas.url == nil)
    }

    @Test("a missing file gives the defaults")
    func missingFile() throws {
        let project = try TemporaryProject()
        #expect(try RoarConfig.load(fromFile: project.configPath) == .default)
    }

    @Test("an empty file, or one with only comments, gives the defaults")
    func emptyFile() throws {
        let project = try TemporaryProject()
        try project.write("")
        #expect(try RoarConfig.load(fromFile: project.configPath) == .default)
        try project.write("# nothing yet\n\n[ray]\n# enabled = false\n")
        #expect(try RoarConfig.load(fromFile: project.configPath) == .default)
    }

    @Test("every key is read")
    func everyKey() throws {
        let project = try TemporaryProject()
        try project.write(
            """
            [ray]
            enabled = false
            actor_attribution = "per_actor"

            [filters]
            ignore = ["/data/cache", "/scratch"]
            include = ["/scratch/keep"]
            ignore_tmp = false

            [hash]
            algorithm = "sha256"

            [run]
            flush_ms = 250

            [glaas]
            url = "https://glaas.example.com:8443/api"

            """)
        let config = try RoarConfig.load(fromFile: project.configPath)
        #expect(
            config
                == RoarConfig(
                    ray: .init(isEnabled: false, actorAttribution: .perActor),
                    filters: .init(
                        ignore: ["/data/cache", "/scratch"], include: ["/scratch/keep"],
                        ignoresTemporaryDirectories: false),
                    hash: .init(algorithm: .sha256),
                    run: .init(flushMilliseconds: 250),
                    glaas: .init(url: "https://glaas.example.com:8443/api")))
    }

    @Test(
        "each key alone changes only itself",
        arguments: [
            ("[ray]\nenabled = false", "ray.enabled", "false"),
            ("[ray]\nactor_attribution = 'per_actor'", "ray.actor_attribution", "per_actor"),
            ("[filters]\nignore = ['/a', \"/b\"]", "filters.ignore", #"["/a", "/b"]"#),
            ("[filters]\ninclude = [\n  '/keep',  # comment\n]", "filters.include", #"["/keep"]"#),
            ("[filters]\nignore_tmp = false", "filters.ignore_tmp", "false"),
            ("[hash]\nalgorithm = \"sha256\"", "hash.algorithm", "sha256"),
            ("[run]\nflush_ms = 60000", "run.flush_ms", "60000"),
            ("[run]\nflush_ms = 1", "run.flush_ms", "1"),
            ("[glaas]\nurl = \"http://127.0.0.1:8080\"", "glaas.url", "http://127.0.0.1:8080"),
        ])
    func eachKey(toml: String, key: String, expected: String) throws {
        let config = try RoarConfig.parse(toml)
        for other in RoarConfig.keys {
            let value = try config.value(forKey: other.name)
            #expect(value == (other.name == key ? expected : other.defaultValue), "\(other.name)")
        }
    }

    @Test("dotted keys and inline tables are the same as tables")
    func otherTableForms() throws {
        let dotted = try RoarConfig.parse("ray.enabled = false\nhash.algorithm = \"sha256\"\n")
        let inline = try RoarConfig.parse("ray = { enabled = false }\nhash = { algorithm = \"sha256\" }\n")
        #expect(dotted == inline)
        #expect(!dotted.ray.isEnabled)
        #expect(dotted.hash.algorithm == .sha256)
    }

    @Test("relative filter paths are resolved against the folder holding roar.toml")
    func relativePaths() throws {
        let project = try TemporaryProject()
        try project.write("[filters]\nignore = [\"data/cache\", \"./out/../tmp\", \"/abs\"]\ninclude = [\"..\"]\n")
        let config = try RoarConfig.load(fromFile: project.configPath)
        let parent = URL(fileURLWithPath: project.root).deletingLastPathComponent().path
        #expect(config.filters.ignore == [project.root + "/data/cache", project.root + "/tmp", "/abs"])
        #expect(config.filters.include == [parent])
    }

    @Test("CRLF line endings and a byte order mark are accepted")
    func windowsText() throws {
        let config = try RoarConfig.parse("\u{FEFF}# c\r\n[run]\r\nflush_ms = 5 # five\r\n")
        #expect(config.run.flushMilliseconds == 5)
    }

    @Test("value(forKey:) rejects unknown keys with a suggestion")
    func valueForUnknownKey() {
        let error = #expect(throws: ConfigError.self) { try RoarConfig.default.value(forKey: "ray.enable") }
        #expect(error?.code == .unknownKey)
        #expect(error?.file == nil)
        #expect(error?.description == "unknown key 'ray.enable' (did you mean 'ray.enabled'?)")
    }

    @Test("the key list covers every key once, with the defaults value(forKey:) prints")
    func keyList() throws {
        let names = RoarConfig.keys.map(\.name)
        #expect(
            names == [
                "ray.enabled", "ray.actor_attribution", "filters.ignore", "filters.include", "filters.ignore_tmp",
                "hash.algorithm", "run.flush_ms", "glaas.url",
            ])
        for key in RoarConfig.keys {
            #expect(try RoarConfig.default.value(forKey: key.name) == key.defaultValue)
            #expect(!key.summary.isEmpty)
        }
        let attribution = try #require(RoarConfig.keys.first { $0.name == "ray.actor_attribution" })
        #expect(attribution.environmentVariable == "ROAR_RAY_ACTOR_ATTRIBUTION")
        #expect(attribution.kind == .choice(["per_call", "per_actor"]))
        #expect(attribution.kind.description == #""per_call" | "per_actor""#)
        #expect(attribution.section == "ray")
        #expect(attribution.field == "actor_attribution")
    }
}
