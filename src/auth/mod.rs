//! Authentication steps. Today: API keys ([`api_key`]). Authorizers (JWT, Lambda-style, SigV4)
//! come here too.

pub mod api_key;
