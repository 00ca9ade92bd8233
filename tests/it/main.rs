//! One integration-test binary (one link instead of many): the moto harness and a module per area.

mod harness;

mod app;
mod boundaries;
mod cli;
mod cli_contract;
mod crash_matrix;
mod deploy;
mod deploy_e2e;
mod deploy_features;
mod deploy_takeover;
mod destroy;
mod environments;
mod faults;
mod guided;
mod hosted_zone;
mod hostile;
mod hung;
mod keys;
mod permissions;
mod prereqs;
mod rotate;
mod status;
mod step;
mod synth_cli;
mod synth_deviations;
mod synth_keys;
mod synth_lint;
mod synth_parity;
mod synth_snapshots;
mod tmux;
mod tui;
