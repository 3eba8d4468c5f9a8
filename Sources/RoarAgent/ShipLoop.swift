#if canImport(Glibc)
    import Glibc
#endif

/// Runs rounds every `interval` seconds until SIGTERM or SIGINT, then one final round.
///
/// The signals are blocked and taken with `sigtimedwait` between rounds rather than handled
/// asynchronously: a round in progress always finishes, and no handler code runs at an
/// arbitrary point.
public enum ShipLoop {
    /// Blocks SIGTERM and SIGINT in this thread (call before starting any thread), so they wait
    /// for ``waitForStop(seconds:)``.
    public static func blockStopSignals() {
        var signals = stopSignals()
        pthread_sigmask(SIG_BLOCK, &signals, nil)
    }

    /// Sleeps up to `seconds`; true when SIGTERM or SIGINT arrived (or was already pending).
    public static func waitForStop(seconds: Double) -> Bool {
        var signals = stopSignals()
        let whole = max(0, seconds.rounded(.down))
        var timeout = timespec(tv_sec: Int(whole), tv_nsec: Int((max(0, seconds) - whole) * 1e9))
        while true {
            let received = sigtimedwait(&signals, nil, &timeout)
            if received == SIGTERM || received == SIGINT { return true }
            // Another signal: go on waiting (the timeout is not updated, which is fine for an interval).
            if received < 0 && errno == EINTR { continue }
            return false
        }
    }

    /// Rounds until stopped, then the final round. Returns false if the final batch could not be written.
    public static func run(_ shipper: inout Shipper, interval: Double) -> Bool {
        while true {
            shipper.runRound()
            if waitForStop(seconds: interval) { break }
        }
        return !shipper.runRound(final: true).failed
    }

    static func stopSignals() -> sigset_t {
        var signals = sigset_t()
        sigemptyset(&signals)
        sigaddset(&signals, SIGTERM)
        sigaddset(&signals, SIGINT)
        return signals
    }
}
