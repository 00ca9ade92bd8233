//! The commented example printed by `medplum-init answers-template`.

/// A fully commented answers file; valid as it stands.
pub const TEMPLATE: &str = include_str!("../../assets/answers-template.toml");

#[cfg(test)]
mod tests {
    use super::*;
    use crate::answers::{Answers, Overrides};

    #[test]
    fn template_is_valid_answers() {
        let a = Answers::from_toml(TEMPLATE, "template", &Overrides::default()).unwrap();
        assert_eq!(a.env(), "staging");
        assert_eq!(a.support_email(), "support@example.com");
    }

    #[test]
    fn template_uncommented_keys_are_all_known() {
        // Every `# key = value` line in the template must name a real key, so the template never
        // teaches a typo.
        let mut in_table = None;
        for line in TEMPLATE.lines() {
            if line.starts_with('[') {
                in_table = None;
            }
            let Some(rest) = line.strip_prefix("# ") else {
                continue;
            };
            if let Some(t) = rest.strip_prefix('[').and_then(|r| r.strip_suffix(']')) {
                in_table = Some(t);
                continue;
            }
            let Some((key, _)) = rest.split_once(" = ") else {
                continue;
            };
            if key.contains(' ') {
                continue;
            }
            if in_table == Some("cloudTrailAlarms") {
                assert!(
                    crate::config::cloudtrail::KEYS.contains(&key),
                    "template mentions unknown cloudTrailAlarms key {key}"
                );
                continue;
            }
            let known = crate::answers::keys::cdk_key(key).is_some()
                || crate::config::server::lookup(key).is_some()
                || crate::answers::keys::TOOL_TABLES
                    .iter()
                    .any(|(_, ks)| ks.iter().any(|(k, _)| *k == key));
            assert!(known, "template mentions unknown key {key}");
        }
    }
}
