//! Response caching: per-worker, per-stage stores of responses, keyed as AWS keys them.
//!
//! [`store`] is the byte-bounded S3-FIFO map (plain data, time passed in).

pub mod key;
pub mod store;
