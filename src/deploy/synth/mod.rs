//! Template synthesis: [`build`] assembles the stacks from one builder per part of Medplum's
//! infrastructure, in the order `@medplum/cdk` lays them out. Pure: config and lookups in,
//! templates out.

pub mod cache;
pub mod cloudfront;
pub mod cloudtrail;
pub mod database;
pub mod dns;
pub mod frontend;
pub mod guardduty;
pub mod ids;
pub mod keys;
pub mod load_balancer;
pub mod network;
pub mod parameters;
pub mod service;
pub mod settings;
pub mod storage;
pub mod template;
pub mod waf;

use cloudfront::Placement;
use settings::Settings;
use template::{ENV_TAG, Template};

use super::{Lookups, StackInput, StackTemplate, SynthError};
use crate::config::US_EAST_1;
use crate::config::infra::InfraConfig;

pub fn build(config: &InfraConfig, lookups: &Lookups) -> Result<Vec<StackTemplate>, SynthError> {
    let s = Settings::from_config(config, lookups)?;
    let tags = vec![(ENV_TAG.to_string(), s.name.clone())];
    let mut stacks = Vec::new();

    let mut primary = Template::new(&s.stack_name, &s.name);
    backend(&mut primary, &s);
    let placement = if s.two_stacks() {
        Placement::Primary
    } else {
        Placement::Single
    };
    frontend::build(&mut primary, &s, placement, &s.region);
    storage::build(&mut primary, &s, placement, &s.region);
    if let Some(c) = &s.cloud_trail {
        cloudtrail::build(&mut primary, c, &s.stack_name, &s.account);
    }
    stacks.push(StackTemplate {
        name: s.stack_name.clone(),
        region: s.region.clone(),
        template: primary.render(),
        tags: tags.clone(),
        inputs: Vec::new(),
    });

    if s.two_stacks() {
        let name = format!("{}-{US_EAST_1}", s.stack_name);
        let mut global = Template::new(&name, &s.name);
        frontend::build(&mut global, &s, Placement::Global, US_EAST_1);
        storage::build(&mut global, &s, Placement::Global, US_EAST_1);
        let inputs = [frontend::OAI_PARAMETER, storage::OAI_PARAMETER]
            .into_iter()
            .map(|p| StackInput {
                parameter: p.to_string(),
                from_stack: s.stack_name.clone(),
                output: p.to_string(),
            })
            .collect();
        stacks.push(StackTemplate {
            name,
            region: US_EAST_1.to_string(),
            template: global.render(),
            tags,
            inputs,
        });
    }
    Ok(stacks)
}

/// `BackEnd`: network, database, Redis, server, load balancer, parameters.
fn backend(t: &mut Template, s: &Settings) {
    let net = network::build(t, s);
    let bot_role = service::bot_lambda_role(t);
    let db = database::build(t, s, &net);
    let cache = cache::build(t, s, &net);
    let mut wait_for = db.resources.clone();
    wait_for.push(cache.cluster.clone());
    service::build(t, s, &net, &bot_role, &wait_for);
    load_balancer::build(t, s, &net);
    parameters::build(
        t,
        s,
        db.secret_arn,
        db.proxy_endpoint,
        &cache.secrets,
        &bot_role,
    );
}
