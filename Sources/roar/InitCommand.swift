import ArgumentParser
import RoarConfig
import RoarCore
import RoarStore

#if canImport(Glibc)
    import Glibc
#endif

struct Init: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Make the current folder a roar project (.roar/ and roar.toml).",
        discussion: """
            Creates .roar/ (the store, roar.db, and the spools of running commands) and a \
            commented roar.toml with every setting at its default. Works inside or outside git; \
            inside git, add `.roar/` to .gitignore (roar.toml belongs in the repository).
            """
    )

    @Option(help: "The folder to make a project (default: the current folder).")
    var directory: String?

    func run() throws {
        let directory = directory ?? Project.currentDirectory()
        let project = Project(directory: directory)
        let (createdState, createdConfig) = try ProjectSetup.create(project)
        let terminal = Terminal.standardOutput
        print(createdState ? "Created \(project.stateDirectory)/" : "\(project.stateDirectory)/ already exists")
        if createdConfig { print("Created \(project.configPath)") }
        if ProjectSetup.isInsideGit(directory), !ProjectSetup.gitignoreMentionsRoar(directory) {
            print(terminal.dim("Tip: add `.roar/` to .gitignore (keep roar.toml in git):  echo .roar/ >> .gitignore"))
        }
    }
}

/// Creating a project's files; shared by `roar init` and the first `roar run` in a folder.
enum ProjectSetup {
    /// Creates `.roar/`, the store and `roar.toml` where missing; says what it created.
    static func create(_ project: Project) throws -> (state: Bool, config: Bool) {
        var createdState = false
        if mkdir(project.stateDirectory, 0o755) == 0 {
            createdState = true
        } else if errno != EEXIST {
            throw Failure("cannot create \(project.stateDirectory): \(String(cString: strerror(errno)))")
        }
        do {
            _ = try RoarStore(path: project.databasePath)
        } catch {
            throw Failure(error.description)
        }
        var createdConfig = false
        if access(project.configPath, F_OK) != 0 {
            let text = RoarConfig.defaultFileContents()
            guard let file = fopen(project.configPath, "w") else {
                throw Failure("cannot create \(project.configPath): \(String(cString: strerror(errno)))")
            }
            fputs(text, file)
            fclose(file)
            createdConfig = true
        }
        return (createdState, createdConfig)
    }

    static func isInsideGit(_ directory: String) -> Bool {
        var current = directory
        while true {
            if access(current + "/.git", F_OK) == 0 { return true }
            guard current != "/", let slash = current.lastIndex(of: "/") else { return false }
            current = slash == current.startIndex ? "/" : String(current[..<slash])
        }
    }

    static func gitignoreMentionsRoar(_ directory: String) -> Bool {
        guard let file = fopen(directory + "/.gitignore", "r") else { return false }
        defer { fclose(file) }
        var line: UnsafeMutablePointer<CChar>?
        var capacity = 0
        defer { free(line) }
        while getline(&line, &capacity, file) > 0 {
            let text = String(cString: line!).trimmingCharacters(in: " \n\r\t")
            if text == ".roar" || text == ".roar/" || text == "/.roar" || text == "/.roar/" { return true }
        }
        return false
    }
}

extension String {
    func trimmingCharacters(in set: String) -> String {
        var text = Substring(self)
        while let first = text.first, set.contains(first) { text.removeFirst() }
        while let last = text.last, set.contains(last) { text.removeLast() }
        return String(text)
    }
}
