import Dispatch
import Synchronization

/// Runs async library code from a synchronous command (roar's commands are synchronous; the few
/// that talk to a server or run one wait here). The main thread is not a Swift concurrency
/// executor, so blocking it on a semaphore cannot deadlock the task.
public func runBlocking<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) throws -> T {
    let result = Mutex<Result<T, any Error>?>(nil)
    let done = DispatchSemaphore(value: 0)
    Task {
        let outcome: Result<T, any Error>
        do { outcome = .success(try await body()) } catch { outcome = .failure(error) }
        result.withLock { $0 = outcome }
        done.signal()
    }
    done.wait()
    return try result.withLock { $0! }.get()
}
