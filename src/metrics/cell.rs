//! The counting cell every metric is made of, and the macro that declares a set of them.
//!
//! A [`Counter`] has exactly one writer: the worker thread that owns the shard it lives in. The
//! writer adds with a relaxed load and a relaxed store — plain `mov`s on x86 and ARM, no `lock`
//! prefix, no cache line bouncing between cores — and a scrape on the admin thread reads with a
//! relaxed load. Because only one thread writes, no update is lost; a scrape may see a value a few
//! nanoseconds old, which is what a scrape means anyway.

use std::sync::atomic::{AtomicU64, Ordering};

#[derive(Default, Debug)]
pub struct Counter(AtomicU64);

impl Counter {
    /// Adds `n`. Only the owning worker may call this (see the module docs).
    #[inline]
    pub fn add(&self, n: u64) {
        self.0.store(self.0.load(Ordering::Relaxed).wrapping_add(n), Ordering::Relaxed);
    }

    #[inline]
    pub fn inc(&self) {
        self.add(1);
    }

    /// Takes `n` from a gauge. Only the owning worker may call this.
    #[inline]
    pub fn sub(&self, n: u64) {
        self.0.store(self.0.load(Ordering::Relaxed).wrapping_sub(n), Ordering::Relaxed);
    }

    /// Sets a gauge. Only the owning worker may call this.
    #[inline]
    pub fn set(&self, v: u64) {
        self.0.store(v, Ordering::Relaxed);
    }

    #[inline]
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// What a metric is, for the exposition's `# TYPE` line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Counter,
    Gauge,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
        }
    }
}

/// One metric of a declared set: exposition name, help text, kind.
#[derive(Debug, Clone, Copy)]
pub struct Describe {
    pub name: &'static str,
    pub help: &'static str,
    pub kind: Kind,
}

/// Declares a struct of [`Counter`]s with the description of each, so that adding a metric is one
/// line: `field: Kind, "portico_name", "help text";`. The struct gets `DESCRIBE` (in field order)
/// and `values()` (the same order), which is all the exposition needs.
#[macro_export]
macro_rules! counters {
    ($(#[$meta:meta])* $vis:vis struct $name:ident { $($field:ident: $kind:ident, $metric:literal, $help:literal;)* }) => {
        $(#[$meta])*
        #[derive(Default, Debug)]
        $vis struct $name {
            $(pub $field: $crate::metrics::cell::Counter,)*
        }

        impl $name {
            pub const DESCRIBE: &'static [$crate::metrics::cell::Describe] = &[
                $($crate::metrics::cell::Describe {
                    name: $metric,
                    help: $help,
                    kind: $crate::metrics::cell::Kind::$kind,
                },)*
            ];

            pub fn values(&self) -> Vec<u64> {
                vec![$(self.$field.get(),)*]
            }
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    crate::counters! {
        struct Example {
            hits: Counter, "example_hits_total", "Hits.";
            open: Gauge, "example_open", "Open things.";
        }
    }

    #[test]
    fn declared_set_describes_and_reads_in_field_order() {
        let e = Example::default();
        e.hits.add(3);
        e.hits.inc();
        e.open.set(7);
        assert_eq!(e.values(), [4, 7]);
        assert_eq!(Example::DESCRIBE[0].name, "example_hits_total");
        assert_eq!(Example::DESCRIBE[1].kind, Kind::Gauge);
    }
}
