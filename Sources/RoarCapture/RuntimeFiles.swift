#if canImport(Glibc)
    import Glibc
#endif

/// The files a traced command needs besides roar itself: they live next to the `roar` binary
/// (scripts/build lays them out), or in `ROAR_HOME` when set.
public struct RuntimeFiles: Sendable, Hashable {
    public var directory: String
    public var preloadLibrary: String { directory + "/libroar_preload.so" }
    public var workerExecutable: String { directory + "/roar-worker" }
    /// Holds `roar_runtime/` and the `sitecustomize.py` that activates it.
    public var pythonDirectory: String { directory + "/roar-python" }

    public init(directory: String) {
        self.directory = directory
    }

    /// Finds the runtime files for this roar executable and checks they are all there.
    public static func locate(environment: [String: String]) throws(CaptureError) -> RuntimeFiles {
        let directory = environment["ROAR_HOME"] ?? executableDirectory()
        let files = RuntimeFiles(directory: directory)
        for path in [files.preloadLibrary, files.workerExecutable, files.pythonDirectory + "/roar_runtime"]
        where access(path, F_OK) != 0 {
            throw CaptureError(
                .runtimeMissing,
                "roar's runtime file \(path) is missing; rebuild with scripts/build (or set ROAR_HOME to the folder holding libroar_preload.so, roar-worker and roar-python/)"
            )
        }
        return files
    }

    static func executableDirectory() -> String {
        var buffer = [CChar](repeating: 0, count: 4096)
        let count = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        guard count > 0 else { return "." }
        let path = String(decoding: buffer[0..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return String(path[..<slash])
    }
}
