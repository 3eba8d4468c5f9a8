#if canImport(Glibc)
    import Glibc
#endif

/// How a command ended.
public enum Termination: Hashable, Sendable {
    case exited(Int32)
    case signaled(Int32)

    /// The exit code a shell would report: the code itself, or 128 + signal number.
    public var shellExitCode: Int32 {
        switch self {
        case .exited(let code): code
        case .signaled(let signal): 128 + signal
        }
    }

    public var signalName: String? {
        guard case .signaled(let signal) = self else { return nil }
        return Termination.signalNames[signal].map { "SIG" + $0 } ?? "signal \(signal)"
    }

    static let signalNames: [Int32: String] = [
        SIGHUP: "HUP", SIGINT: "INT", SIGQUIT: "QUIT", SIGILL: "ILL", SIGABRT: "ABRT", SIGFPE: "FPE", SIGKILL: "KILL",
        SIGSEGV: "SEGV", SIGPIPE: "PIPE", SIGALRM: "ALRM", SIGTERM: "TERM", SIGBUS: "BUS", SIGUSR1: "USR1",
        SIGUSR2: "USR2",
    ]
}

/// The pid signals are forwarded to. Written before the handlers are installed and read only
/// by the handlers; a plain `pid_t` store/load is atomic on every platform roar runs on.
nonisolated(unsafe) private var forwardingTarget: pid_t = 0

/// Runs a command as a child of roar, forwarding the signals a user sends to roar (Ctrl-C,
/// `kill`) so that the command decides how to stop, and waits for it.
public enum CommandRunner {
    static let forwardedSignals = [SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2]

    public static func run(
        _ arguments: [String], environment: [String: String], workingDirectory: String? = nil
    ) throws(CaptureError) -> Termination {
        guard let program = arguments.first else { throw CaptureError(.launchFailed, "no command given") }
        if let workingDirectory, chdir(workingDirectory) != 0 {
            throw CaptureError(.launchFailed, "cannot enter \(workingDirectory): \(String(cString: strerror(errno)))")
        }
        var pid: pid_t = 0
        let argv = arguments.map { strdup($0) } + [nil]
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            for pointer in argv { free(pointer) }
            for pointer in envp { free(pointer) }
        }
        let status = posix_spawnp(&pid, program, nil, nil, argv, envp)
        guard status == 0 else {
            let reason = status == ENOENT ? "command not found" : String(cString: strerror(status))
            throw CaptureError(.launchFailed, "cannot run '\(program)': \(reason)", errorNumber: status)
        }

        forwardingTarget = pid
        var previous: [Int32: sigaction] = [:]
        for signalNumber in forwardedSignals {
            var action = sigaction()
            action.__sigaction_handler.sa_handler = { received in
                if forwardingTarget > 0 { kill(forwardingTarget, received) }
            }
            sigemptyset(&action.sa_mask)
            action.sa_flags = SA_RESTART
            var old = sigaction()
            sigaction(signalNumber, &action, &old)
            previous[signalNumber] = old
        }
        defer {
            for (signalNumber, old) in previous {
                var restored = old
                sigaction(signalNumber, &restored, nil)
            }
            forwardingTarget = 0
        }

        var waitStatus: Int32 = 0
        while waitpid(pid, &waitStatus, 0) < 0 {
            if errno != EINTR { return .exited(127) }
        }
        let termSignal = waitStatus & 0x7f
        if termSignal == 0 { return .exited((waitStatus >> 8) & 0xff) }
        return .signaled(termSignal)
    }

    /// Runs a helper command (such as `git`) and returns what it printed, or nil if it failed.
    public static func output(of arguments: [String]) -> String? {
        var pipeEnds: [Int32] = [0, 0]
        guard pipe(&pipeEnds) == 0 else { return nil }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, pipeEnds[1], 1)
        posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        posix_spawn_file_actions_addclose(&actions, pipeEnds[0])
        var pid: pid_t = 0
        let argv = arguments.map { strdup($0) } + [nil]
        defer { for pointer in argv { free(pointer) } }
        // Helpers are never traced: drop the preload library from their environment.
        var environment: [UnsafeMutablePointer<CChar>?] = []
        var entry = environ
        while let pointer = entry.pointee {
            let text = String(cString: pointer)
            if !text.hasPrefix("LD_PRELOAD=") { environment.append(strdup(text)) }
            entry += 1
        }
        environment.append(nil)
        defer { for pointer in environment { free(pointer) } }
        let status = posix_spawnp(&pid, arguments[0], &actions, nil, argv, environment)
        close(pipeEnds[1])
        guard status == 0 else {
            close(pipeEnds[0])
            return nil
        }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = read(pipeEnds[0], &buffer, buffer.count)
            if count < 0 && errno == EINTR { continue }
            if count <= 0 { break }
            bytes += buffer[0..<count]
        }
        close(pipeEnds[0])
        var waitStatus: Int32 = 0
        while waitpid(pid, &waitStatus, 0) < 0 && errno == EINTR {}
        guard waitStatus == 0 else { return nil }
        return String(decoding: bytes, as: UTF8.self)
    }
}
