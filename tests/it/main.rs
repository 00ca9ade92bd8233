//! One integration-test binary (one link instead of many): the moto harness and a module per area.

mod harness;

mod cli;
mod deploy;
mod keys;
