//! The CDK's naming scheme, reproduced so a stack deployed by `@medplum/cdk` can be updated in
//! place: logical IDs (`BackEndVPCF5C5F769`), unique IDs used inside names
//! (`MedplumStagingStackFrontEndResponseHeadersPolicy391C9394`), construct addresses (`c8…`), the
//! database-secret ID exception, and the string order the CDK sorts tags and `DependsOn` by.

use std::cmp::Ordering;

use md5::{Digest, Md5};
use sha1::Sha1;

/// Components named `Default` vanish from IDs and hashes (the CDK's "hidden" id).
const HIDDEN_ID: &str = "Default";
/// Components named `Resource` are hashed but left out of the readable part.
const HIDDEN_FROM_HUMAN_ID: &str = "Resource";
const HASH_LEN: usize = 8;
const MAX_HUMAN_LEN: usize = 240;
const MAX_ID_LEN: usize = 255;

/// The CDK's `makeUniqueId`: readable path + 8 upper-case hex digits of the MD5 of the path.
///
/// For a logical ID pass the components below the stack (`["BackEnd", "VPC", "Resource"]`); for
/// `Names.uniqueId` pass the stack name too.
pub fn unique_id(components: &[&str]) -> String {
    let components: Vec<&str> = components
        .iter()
        .copied()
        .filter(|c| *c != HIDDEN_ID)
        .collect();
    assert!(!components.is_empty(), "an ID needs at least one component");
    if components.len() == 1 {
        let candidate = alphanumeric(components[0]);
        if candidate.len() <= MAX_ID_LEN {
            return candidate;
        }
    }
    let digest = Md5::digest(components.join("/").as_bytes());
    let hash: String = hex(&digest)[..HASH_LEN].to_uppercase();
    let mut human = String::new();
    let mut kept: Vec<&str> = Vec::new();
    for c in &components {
        // "FargateService/Service" keeps only "FargateService": a component the previous kept
        // one already ends with adds nothing readable.
        if kept.last().is_some_and(|last| last.ends_with(c)) {
            continue;
        }
        kept.push(c);
    }
    for c in kept {
        if c != HIDDEN_FROM_HUMAN_ID {
            human.push_str(&alphanumeric(c));
        }
    }
    let human: String = human.chars().take(MAX_HUMAN_LEN).collect();
    human + &hash
}

/// A construct path split on `/`, for callers holding the path as one string.
pub fn path_id(path: &str) -> String {
    let parts: Vec<&str> = path.split('/').collect();
    unique_id(&parts)
}

/// The CDK's construct address (`node.addr`): `c8` + SHA-1 over every component of the path from
/// the (unnamed) app root, each followed by a newline, `Default` skipped. CloudFront public keys
/// use it as their caller reference.
pub fn node_addr(components_below_app: &[&str]) -> String {
    let mut h = Sha1::new();
    for c in std::iter::once("").chain(components_below_app.iter().copied()) {
        if c == HIDDEN_ID {
            continue;
        }
        h.update(c.as_bytes());
        h.update(b"\n");
    }
    format!("c8{}", hex(&h.finalize()))
}

/// The Aurora cluster's generated secret overrides its logical ID (aws-cdk-lib `DatabaseSecret`
/// with `replaceOnPasswordCriteriaChanges`): the unique ID of its full path, stack included, then
/// the lower-case MD5 of `{"excludeCharacters":"…"}`.
pub fn database_secret_id(stack: &str, secret_path: &[&str], exclude_characters: &str) -> String {
    let mut full = vec![stack];
    full.extend_from_slice(secret_path);
    let json = serde_json::json!({ "excludeCharacters": exclude_characters }).to_string();
    unique_id(&full) + &hex(&Md5::digest(json.as_bytes()))
}

fn alphanumeric(s: &str) -> String {
    s.chars().filter(char::is_ascii_alphanumeric).collect()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The order JavaScript's `localeCompare` gives ASCII strings, which the CDK uses to sort tags
/// and `DependsOn`: punctuation before digits before letters, letters case-insensitive first
/// (lower case first on a tie), then the full strings as a last resort.
pub fn locale_cmp(a: &str, b: &str) -> Ordering {
    let primary = a.chars().map(primary_key).cmp(b.chars().map(primary_key));
    primary
        .then_with(|| a.chars().map(case_key).cmp(b.chars().map(case_key)))
        .then_with(|| a.cmp(b))
}

/// ICU root collation, primary strength, for the ASCII characters that occur in construct paths
/// and tag keys.
fn primary_key(c: char) -> (u8, u32) {
    const PUNCTUATION: &str = " _-,;:!?.'\"()[]{}@*/\\&#%`^+<=>|~$";
    if let Some(i) = PUNCTUATION.find(c) {
        (0, i as u32)
    } else if c.is_ascii_digit() {
        (1, c as u32)
    } else if c.is_ascii_alphabetic() {
        (2, c.to_ascii_lowercase() as u32)
    } else {
        (3, c as u32)
    }
}

fn case_key(c: char) -> u8 {
    u8::from(c.is_ascii_uppercase())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    const STACK: &str = "MedplumStagingStack";
    const DB_EXCLUDE: &str = " %+~`#$&*()|[]{}:;<>?!'/@\"\\";

    /// Every logical ID the official CDK recorded for the reference stack (84: 81 resources, the
    /// bootstrap parameter and rule, the CloudFront mapping) comes out of the rule.
    #[test]
    fn reproduces_every_logical_id_of_the_reference_manifest() {
        let text = include_str!("../../../tests/fixtures/reference/manifest.json");
        let manifest: Value = serde_json::from_str(text).unwrap();
        let metadata = manifest["artifacts"][STACK]["metadata"]
            .as_object()
            .unwrap();
        let mut checked = 0;
        for (path, entries) in metadata {
            for e in entries.as_array().unwrap() {
                if e["type"] != "aws:cdk:logicalId" {
                    continue;
                }
                let expected = e["data"].as_str().unwrap();
                let below_stack: Vec<&str> = path
                    .strip_prefix(&format!("/{STACK}/"))
                    .unwrap()
                    .split('/')
                    .collect();
                let got = if below_stack == ["BackEnd", "DatabaseCluster", "Secret", "Resource"] {
                    database_secret_id(STACK, &below_stack[..3], DB_EXCLUDE)
                } else {
                    unique_id(&below_stack)
                };
                assert_eq!(got, expected, "logical ID of {path}");
                checked += 1;
            }
        }
        assert_eq!(checked, 84);
    }

    #[test]
    fn unique_ids_used_inside_names() {
        assert_eq!(
            unique_id(&[STACK, "FrontEnd", "ResponseHeadersPolicy"]),
            "MedplumStagingStackFrontEndResponseHeadersPolicy391C9394"
        );
        assert_eq!(
            unique_id(&[STACK, "BackEnd", "LoadBalancer"]),
            "MedplumStagingStackBackEndLoadBalancerE1916D42"
        );
        // Non-alphanumerics vanish from the readable part but not from the hash.
        assert_eq!(
            unique_id(&[
                "MedplumStagingStack-us-east-1",
                "Storage",
                "StoragePublicKey"
            ]),
            "MedplumStagingStackuseast1StorageStoragePublicKey946523BA"
        );
        assert_eq!(
            path_id("MedplumStagingStack/FrontEnd/AppDistribution/Origin1"),
            "MedplumStagingStackFrontEndAppDistributionOrigin1B4114328"
        );
    }

    #[test]
    fn single_components_and_default_are_special() {
        assert_eq!(unique_id(&["CDKMetadata", "Default"]), "CDKMetadata");
        assert_eq!(unique_id(&["Default", "My-Thing"]), "MyThing");
        // Over-long readable parts are cut at 240 characters before the hash.
        let long = "A".repeat(300);
        let id = unique_id(&["X", &long]);
        assert_eq!(id.len(), 240 + 8);
    }

    #[test]
    fn node_address_matches_the_public_key_caller_reference() {
        assert_eq!(
            node_addr(&[STACK, "Storage", "StoragePublicKey"]),
            "c80cfc1bcf45a7add5267b4bc731b3aaf369660c1e"
        );
    }

    #[test]
    fn locale_order_is_case_insensitive_with_punctuation_first() {
        let mut keys = vec![
            "Name",
            "medplum:environment",
            "aws-cdk:subnet-type",
            "aws-cdk:subnet-name",
        ];
        keys.sort_by(|a, b| locale_cmp(a, b));
        assert_eq!(
            keys,
            [
                "aws-cdk:subnet-name",
                "aws-cdk:subnet-type",
                "medplum:environment",
                "Name"
            ]
        );
        assert_eq!(locale_cmp("a/from x", "a/Resource"), Ordering::Less);
        assert_eq!(locale_cmp("Instance1", "Resource"), Ordering::Less);
        assert_eq!(locale_cmp("Instance1", "Instance2"), Ordering::Less);
    }
}
