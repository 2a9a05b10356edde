//! hearth: a personal web platform in one binary. Each role (`serve`, `migrate`, …) is a
//! subcommand in [`cli`]; the domains they use live in their own modules.

pub mod app;
pub mod cli;
pub mod config;
pub mod db;
pub mod ops;
pub mod site;
pub mod telemetry;
pub mod web;

pub use app::App;
