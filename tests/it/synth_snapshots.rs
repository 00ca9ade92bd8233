//! Snapshots of whole synthesized templates, so any change to what medplum-init would deploy
//! shows up in review as a diff. Configs: the reference (us-east-1), every supported optional
//! feature in eu-central-1 (two stacks, GuardDuty), and no lookups at all (`Fn::GetAZs`, no DNS).

use crate::harness::root;
use crate::synth_parity::synth_fixture;

fn snapshot(fixture: &str) {
    for stack in synth_fixture(&root().join("tests/fixtures").join(fixture)) {
        let name = format!("{}-{}", fixture.replace('/', "-"), stack.name);
        insta::assert_json_snapshot!(name, stack.template);
    }
}

#[test]
fn reference_config() {
    snapshot("reference");
}

#[test]
fn every_supported_feature_in_two_regions() {
    snapshot("synth/all-features");
}

#[test]
fn no_lookups() {
    snapshot("synth/no-lookups");
}
