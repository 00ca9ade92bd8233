//! Medplum's two configurations: the CDK infra config (`medplum.<env>.config.json`) and the
//! server config (parameters under `/medplum/<env>/`), plus the values derived from them.

pub mod derive;
pub mod infra;
pub mod server;
