import RoarConfig
import Testing

@Suite("Environment overrides")
struct EnvironmentTests {
    @Test("ROAR_RAY_ENABLED and ROAR_RAY_ACTOR_ATTRIBUTION override the file")
    func rayOverrides() throws {
        let file = try RoarConfig.parse("[ray]\nenabled = true\nactor_attribution = \"per_call\"\n")
        let config = try file.applyingEnvironment([
            "ROAR_RAY_ENABLED": "false", "ROAR_RAY_ACTOR_ATTRIBUTION": "per_actor", "PATH": "/usr/bin",
        ])
        #expect(!config.ray.isEnabled)
        #expect(config.ray.actorAttribution == .perActor)
        #expect(config.filters == file.filters)
    }

    @Test(
        "booleans take 1 and 0, as roar run exports them",
        arguments: [("1", true), ("0", false), ("TRUE", true), ("off", false)])
    func booleans(text: String, expected: Bool) throws {
        let config = try RoarConfig.default.applyingEnvironment(["ROAR_RAY_ENABLED": text])
        #expect(config.ray.isEnabled == expected)
    }

    @Test("every key has a variable")
    func everyKey() throws {
        let config = try RoarConfig.default.applyingEnvironment([
            "ROAR_FILTERS_IGNORE": "/a:/b", "ROAR_FILTERS_INCLUDE": #"["/keep"]"#, "ROAR_FILTERS_IGNORE_TMP": "false",
            "ROAR_HASH_ALGORITHM": "sha256", "ROAR_RUN_FLUSH_MS": "250", "ROAR_GLAAS_URL": "http://127.0.0.1:8000",
        ])
        #expect(config.filters == .init(ignore: ["/a", "/b"], include: ["/keep"], ignoresTemporaryDirectories: false))
        #expect(config.hash.algorithm == .sha256)
        #expect(config.run.flushMilliseconds == 250)
        #expect(config.glaas.url == "http://127.0.0.1:8000")
    }

    @Test("an empty variable changes nothing")
    func emptyIsUnset() throws {
        let file = try RoarConfig.parse("[glaas]\nurl = \"https://x.example\"\n")
        let config = try file.applyingEnvironment(["ROAR_GLAAS_URL": "", "ROAR_RAY_ACTOR_ATTRIBUTION": ""])
        #expect(config == file)
    }

    @Test(
        "bad values name the variable",
        arguments: [
            (
                "ROAR_RAY_ACTOR_ATTRIBUTION", "per_task", "ray.actor_attribution",
                #"ROAR_RAY_ACTOR_ATTRIBUTION must be "per_call" or "per_actor", got "per_task""#
            ),
            ("ROAR_RAY_ENABLED", "maybe", "ray.enabled", #"ROAR_RAY_ENABLED must be true or false, got "maybe""#),
            (
                "ROAR_FILTERS_IGNORE", "data/cache", "filters.ignore",
                #"ROAR_FILTERS_IGNORE must list absolute paths, got "data/cache""#
            ),
        ])
    func badValues(variable: String, value: String, key: String, message: String) {
        let error = #expect(throws: ConfigError.self) { try RoarConfig.default.applyingEnvironment([variable: value]) }
        #expect(error?.code == .badValue)
        #expect(error?.key == key)
        #expect(error?.file == nil)
        #expect(error?.description == message)
    }
}
