import ArgumentParser
import RoarCapture
import RoarConfig
import RoarCore
import RoarStore

#if canImport(Glibc)
    import Glibc
#endif

/// What most commands start from: the project around the current directory and its store.
struct ProjectContext {
    var project: Project
    var store: RoarStore

    /// Finds the project above the current directory and opens its store.
    static func open() throws -> ProjectContext {
        let cwd = Project.currentDirectory()
        guard let project = Project.find(from: cwd) else {
            throw ValidationError("no roar project here or above \(cwd): run `roar init` first")
        }
        do {
            return ProjectContext(project: project, store: try RoarStore(path: project.databasePath))
        } catch {
            throw Failure(error.description)
        }
    }

    func config() throws -> RoarConfig {
        do {
            return try RoarConfig.load(fromFile: project.configPath).applyingEnvironment(Environment.current)
        } catch {
            throw Failure(error.description)
        }
    }
}

/// An error message for the user, printed as `roar: <message>`, exit status 2.
struct Failure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

enum Environment {
    static var current: [String: String] {
        var values: [String: String] = [:]
        var entry = environ
        while let pointer = entry.pointee {
            let text = String(cString: pointer)
            if let equals = text.firstIndex(of: "=") {
                values[String(text[..<equals])] = String(text[text.index(after: equals)...])
            }
            entry += 1
        }
        return values
    }
}

extension TracedRun.Settings {
    /// How runs are traced, from roar.toml (with its environment overrides).
    init(config: RoarConfig, environment: [String: String]) {
        self.init()
        isRayEnabled = config.ray.isEnabled
        actorAttribution = config.ray.actorAttribution.rawValue
        flushMilliseconds = config.run.flushMilliseconds
        ignoreTemporary = config.filters.ignoresTemporaryDirectories
        extraIgnored = config.filters.ignore
        extraIncluded = config.filters.include
        keepsSpool = environment["ROAR_KEEP_SPOOL"] == "1"
    }
}

extension RuntimeFiles {
    static func locateForCLI(environment: [String: String]) throws -> RuntimeFiles {
        do {
            return try RuntimeFiles.locate(environment: environment)
        } catch {
            throw Failure(error.description)
        }
    }
}
