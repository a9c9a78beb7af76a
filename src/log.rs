//! A small stderr logger for the `log` facade: one line per event, UTC timestamp, level, target.
//!
//! `PORTICO_LOG` sets the level (`error`, `warn`, `info`, `debug`, `trace`; default `info`). Logging
//! is for the control plane and for failures; the request hot path logs nothing on success.

use std::io::Write;

struct StderrLogger {
    level: log::LevelFilter,
}

impl log::Log for StderrLogger {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        // rustls warns about what clients send (an IP address as SNI, from wrk and others) once per
        // handshake: a client can fill the log at will. Its own messages come through at debug.
        if metadata.target().starts_with("rustls") && metadata.level() > log::Level::Error {
            return self.level >= log::LevelFilter::Debug && metadata.level() <= self.level;
        }
        metadata.level() <= self.level
    }

    fn log(&self, record: &log::Record<'_>) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let now = httpdate::fmt_http_date(std::time::SystemTime::now());
        let mut err = std::io::stderr().lock();
        // A failed write to stderr has nowhere to be reported.
        let _ = writeln!(err, "{now} {:<5} {}: {}", record.level(), record.target(), record.args());
    }

    fn flush(&self) {}
}

/// Installs the logger once; later calls are no-ops.
pub fn init() {
    let level = match std::env::var("PORTICO_LOG").as_deref() {
        Ok("error") => log::LevelFilter::Error,
        Ok("warn") => log::LevelFilter::Warn,
        Ok("debug") => log::LevelFilter::Debug,
        Ok("trace") => log::LevelFilter::Trace,
        Ok("off") => log::LevelFilter::Off,
        _ => log::LevelFilter::Info,
    };
    let logger = Box::leak(Box::new(StderrLogger { level }));
    if log::set_logger(logger).is_ok() {
        log::set_max_level(level);
    }
}
