//! Row types, one module per table.

pub mod api_token;
pub mod audit_log;
pub mod lease;
pub mod login_throttle;
pub mod migration;
pub mod photo;
pub mod session;
pub mod user;
