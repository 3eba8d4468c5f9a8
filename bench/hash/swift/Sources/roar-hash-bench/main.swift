// roar-hash-bench [--sha256] [--threads N] [--check] [--progress] FILE...
// The proposed `roar hash` command without ArgumentParser: parsing here, everything else in RoarHash.HashTool.
import RoarHash

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

var request = HashRequest(paths: [])
var arguments = CommandLine.arguments.dropFirst()
while let argument = arguments.popFirst() {
    switch argument {
    case "--sha256": request.algorithm = .sha256
    case "--check", "-c": request.isChecking = true
    case "--progress": request.showsProgress = true
    case "--threads":
        guard let value = arguments.popFirst().flatMap({ Int($0) }), value >= 0 else {
            writeAll(STDERR_FILENO, Array("roar-hash-bench: --threads needs a count (0 = automatic)\n".utf8))
            exit(2)
        }
        request.threads = value
    case "--":
        request.paths += arguments
        arguments = []
    default: request.paths.append(argument)
    }
}
if request.paths.isEmpty { request.paths = ["-"] }
if isatty(STDERR_FILENO) != 0 && getenv("ROAR_NO_PROGRESS") == nil { request.showsProgress = true }

var pending = [UInt8]()
pending.reserveCapacity(1 << 17)
let status = HashTool.run(
    request,
    write: { bytes in
        if pending.count + bytes.count > 1 << 16 {
            writeAll(STDOUT_FILENO, pending)
            pending.removeAll(keepingCapacity: true)
        }
        if bytes.count >= 1 << 16 {
            writeAll(STDOUT_FILENO, Array(bytes))
        } else {
            pending.append(contentsOf: bytes)
        }
    },
    diagnostics: { line in
        writeAll(STDERR_FILENO, Array(line.utf8) + (line.hasPrefix("\r") ? [] : [0x0A]))
    }
)
writeAll(STDOUT_FILENO, pending)
exit(status)

func writeAll(_ fd: Int32, _ bytes: [UInt8]) {
    bytes.withUnsafeBytes { buffer in
        var offset = 0
        while offset < buffer.count {
            let written = write(fd, buffer.baseAddress! + offset, buffer.count - offset)
            if written <= 0 { return }
            offset += written
        }
    }
}
