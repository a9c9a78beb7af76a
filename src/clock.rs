//! Milliseconds on one monotonic clock (quanta) shared by every thread: what caches compare
//! entry times with. Only differences mean anything; the zero is the first call.

/// Milliseconds since the first call, on a monotonic clock.
pub fn now_ms() -> u64 {
    static START: std::sync::OnceLock<quanta::Instant> = std::sync::OnceLock::new();
    START.get_or_init(quanta::Instant::now).elapsed().as_millis() as u64
}
