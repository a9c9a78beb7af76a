//! Helpers for Portico's own background threads (the log writer, the admin listener).

/// Lowers the calling thread's scheduling priority (nice 10) so that, on a busy box, a helper thread
/// (the log writer, the admin listener) yields to the workers instead of taking their time slices.
/// Linux applies `setpriority(PRIO_PROCESS, tid)` to the one thread.
pub fn deprioritize_this_thread(name: &str) {
    // SAFETY: gettid has no preconditions; setpriority only reads its integer arguments.
    let res = unsafe { libc::setpriority(libc::PRIO_PROCESS, libc::gettid() as libc::id_t, 10) };
    if res != 0 {
        log::debug!("{name}: cannot lower thread priority: {}", std::io::Error::last_os_error());
    }
}
