#if canImport(Glibc)
    import Glibc
#endif

/// A roar project: the folder holding `.roar/` (the store and spools) and `roar.toml`.
public struct Project: Sendable, Hashable {
    public var directory: String

    public init(directory: String) {
        self.directory = directory
    }

    public var stateDirectory: String { directory + "/.roar" }
    public var databasePath: String { stateDirectory + "/roar.db" }
    public var spoolRoot: String { stateDirectory + "/spool" }
    public var configPath: String { directory + "/roar.toml" }

    /// The nearest folder at or above `start` that holds `.roar/`.
    public static func find(from start: String) -> Project? {
        var current = start
        while true {
            var info = stat()
            if stat(current + "/.roar", &info) == 0, (info.st_mode & S_IFMT) == S_IFDIR {
                return Project(directory: current)
            }
            guard current != "/", let slash = current.lastIndex(of: "/") else { return nil }
            current = slash == current.startIndex ? "/" : String(current[..<slash])
        }
    }

    /// The current working directory, as the kernel reports it.
    public static func currentDirectory() -> String {
        guard let pointer = getcwd(nil, 0) else { return "." }
        defer { free(pointer) }
        return String(cString: pointer)
    }
}
