//! Access logs: one line per request in a format the stage chose, written off the workers.
//!
//! [`format`](mod@format) compiles templates and renders lines; [`sink`] owns the per-worker buffers and the
//! writer thread. Workers only ever append to their own buffer and hand full buffers over with a
//! non-blocking send: a slow or blocked log file costs dropped (and counted) lines, never a stalled
//! request.

pub mod format;
pub mod sink;
