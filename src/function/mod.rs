//! Functions: what a Lambda proxy integration invokes, built as a piece of its own so that
//! integrations, authorizers and WebSocket routes can all call functions through it.
//!
//! Today: [`result`], reading a function's answer exactly as Amazon API Gateway does, in both
//! payload formats. Building events, the invoker and its targets (an HTTP endpoint, local handler
//! processes over the Lambda Runtime API, the Lambda Invoke API) come next (issue 13).
//!
//! Must not: know about connections or the pipeline.

pub mod event;
pub mod result;
