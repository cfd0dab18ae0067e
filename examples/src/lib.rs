//! What a user builds on the generated crate, each a library (so that the
//! tests drive it in process) and a small binary:
//!
//! - [`push_gateway`]: a push gateway on `matrix_api::push_gateway`'s
//!   `PushGatewayApi`, which homeservers send notifications to;
//! - [`bridge`]: an echo bridge on `matrix_api::application_service`'s
//!   `ApplicationServiceApi`, which drives its homeserver through the
//!   generated client-server client.

pub mod bridge;
pub mod push_gateway;
