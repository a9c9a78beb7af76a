//! Step 7, integrations: what answers a routed request. [`mock`] answers from the table;
//! [`http_proxy`] forwards to an upstream through the outbound client
//! ([`crate::outbound`]) and [`relay`]s the answer; [`function`] builds the request's event,
//! invokes the function through [`crate::function`] and answers with what it returned;
//! [`mapped`] maps the request and the answer through templates ([`crate::vtl`], fed by
//! [`template_input`]).

pub mod function;
pub mod http_proxy;
pub mod mapped;
pub mod mock;
pub mod relay;
pub mod template_input;
