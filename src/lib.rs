//! hearth: a personal web platform in one binary. Each role (`serve`, `migrate`, …) is a
//! subcommand in [`cli`]; the domains they use live in their own modules.

pub mod app;
pub mod auth;
pub mod backup;
pub mod cli;
pub mod config;
pub mod db;
pub mod ops;
pub mod photos;
pub mod publish;
pub mod schedule;
pub mod site;
pub mod storage;
pub mod telemetry;
pub mod web;

pub use app::App;

/// Chooses rustls' crypto provider (ring) for the whole process, once. Several crates
/// bring rustls; without one default, a TLS client it has not been told about panics.
pub fn install_tls_provider() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}
