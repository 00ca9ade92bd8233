//! The answers given so far, as strings per question, and their TOML form: the text that goes
//! through [`Answers::from_toml`], that `--save-answers` writes, and that the journal keeps so a
//! later run starts with every answer filled in.
//!
//! Keys of an earlier answers text the guided install does not ask about are carried through
//! unchanged, except secret server values, which are never written anywhere by this module.

use std::collections::BTreeMap;

use toml::{Table, Value};

use super::Known;
use super::fields::{FieldId, Kind};
use crate::answers::{Answers, AnswersInvalid, Overrides};
use crate::config::infra::ConfigDocument;
use crate::config::server;

/// What the journal says earlier runs made, so a config file's values that came from them are
/// not mistaken for hand edits.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Recorded {
    /// medplum-init registered a signing key.
    pub signing_key: bool,
    /// Certificate ARN by purpose (api, app, storage).
    pub certificates: std::collections::BTreeMap<String, String>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Draft {
    values: BTreeMap<FieldId, String>,
    /// Keys of an earlier answers text that no question covers.
    extra: Table,
}

/// Top-level keys the questions write; anything else at the top level is carried as extra.
const MANAGED_TOP: &[&str] = &[
    "name",
    "stackName",
    "region",
    "domainName",
    "hostedZoneName",
    "skipDns",
    "apiDomainName",
    "appDomainName",
    "storageDomainName",
    "storageBucketName",
    "maxAzs",
    "rdsInstances",
    "rdsProxyEnabled",
    "rdsPersistentParameterGroups",
    "rdsIdsMajorVersionSuffix",
    "vpcId",
    "rdsInstanceType",
    "desiredServerCount",
    "serverImage",
    "serverCpu",
    "serverMemory",
    "signingKeyId",
    "loadBalancerLoggingEnabled",
    "loadBalancerLoggingBucket",
    "clientId",
    "googleClientId",
];

impl Draft {
    /// The answer, or the default when there is none.
    pub fn value(&self, id: FieldId, k: &Known) -> String {
        match self.values.get(&id) {
            Some(v) => v.clone(),
            None => id.default(self, k),
        }
    }

    /// Whether the user (or a previous run) answered this one.
    pub fn is_set(&self, id: FieldId) -> bool {
        self.values.contains_key(&id)
    }

    pub fn set(&mut self, id: FieldId, value: String) {
        self.values.insert(id, value);
    }

    pub fn clear(&mut self, id: FieldId) {
        self.values.remove(&id);
    }

    /// Drops answers that an earlier change made impossible (memory that no longer suits the
    /// CPU, a certificate choice that no longer covers the name), so their defaults apply.
    pub fn normalize(&mut self, k: &Known) {
        for id in [FieldId::ServerMemory] {
            if let Some(v) = self.values.get(&id).cloned()
                && id.check(&v, self, k).is_err()
            {
                self.values.remove(&id);
            }
        }
        for id in [FieldId::CertApi, FieldId::CertApp, FieldId::CertStorage] {
            if let Some(v) = self.values.get(&id).cloned()
                && v.starts_with("arn:")
                && !id.options(self, k).iter().any(|o| o.value == v)
                && id.check(&v, self, k).is_err()
            {
                self.values.remove(&id);
            }
        }
    }

    /// The answers text: every question asked, with its answer or default.
    pub fn to_toml(&self, k: &Known) -> String {
        let mut top = Table::new();
        let mut tables: Vec<(&str, Table)> = [
            "certificates",
            "email",
            "logging",
            "server",
            "cloudTrailAlarms",
        ]
        .into_iter()
        .map(|t| (t, Table::new()))
        .collect();
        let domain = self.value(FieldId::DomainName, k);
        for id in FieldId::ALL {
            if !id.visible(self, k) {
                continue;
            }
            let value = self.value(id, k);
            if id.omit_when_default() && value == id.default(self, k) {
                continue;
            }
            match id {
                FieldId::Zone => {
                    if value == "skip" {
                        top.insert("skipDns".into(), Value::Boolean(true));
                    } else if let Some(zone) = value.strip_prefix("zone:")
                        && zone != domain
                    {
                        top.insert("hostedZoneName".into(), Value::String(zone.into()));
                    }
                    continue;
                }
                FieldId::KeyMode | FieldId::Advanced | FieldId::CloudTrail => continue,
                // Empty: a topic CloudFormation names.
                FieldId::AlarmTopic if value.is_empty() => continue,
                FieldId::LbLogging if value != "true" => continue,
                _ => {}
            }
            // An ARN names an existing topic: the CDK reads it from another key.
            let answer_key = if id == FieldId::AlarmTopic && value.starts_with("arn:") {
                "cloudTrailAlarms.snsTopicArn"
            } else {
                id.key()
            };
            let typed = typed(id, &value);
            match answer_key.split_once('.') {
                Some((table, key)) => {
                    if let Some((_, t)) = tables.iter_mut().find(|(n, _)| *n == table) {
                        t.insert(key.into(), typed);
                    }
                }
                None => {
                    top.insert(answer_key.into(), typed);
                }
            }
        }
        let alarms_on =
            FieldId::CloudTrail.visible(self, k) && self.value(FieldId::CloudTrail, k) == "true";
        for (key, value) in &self.extra {
            if key == "cloudTrailAlarms" && !alarms_on {
                continue;
            }
            match value {
                Value::Table(extra) => match tables.iter_mut().find(|(n, _)| n == key) {
                    Some((_, t)) => {
                        for (k2, v2) in extra {
                            t.entry(k2.clone()).or_insert_with(|| v2.clone());
                        }
                    }
                    None => {
                        top.entry(key.clone()).or_insert_with(|| value.clone());
                    }
                },
                _ => {
                    top.entry(key.clone()).or_insert_with(|| value.clone());
                }
            }
        }
        for (name, t) in tables {
            if !t.is_empty() {
                top.insert(name.into(), Value::Table(t));
            }
        }
        toml::to_string(&top).expect("answers tables serialise")
    }

    /// Validates the draft as an answers file would be.
    pub fn answers(&self, k: &Known, ov: &Overrides) -> Result<Answers, AnswersInvalid> {
        Answers::from_toml(&self.to_toml(k), "the guided install", ov)
    }

    /// Reads an answers text (a saved answers file, the journal's copy) back into a draft.
    pub fn from_toml(text: &str) -> Result<Self, toml::de::Error> {
        let mut table: Table = toml::from_str(text)?;
        let mut d = Draft::default();
        let zone = table.remove("hostedZoneName");
        let skip = table.remove("skipDns");
        match (zone, skip) {
            (_, Some(Value::Boolean(true))) => d.set(FieldId::Zone, "skip".into()),
            (Some(Value::String(z)), _) => d.set(FieldId::Zone, format!("zone:{z}")),
            _ => {}
        }
        if let Some(Value::Table(mut alarms)) = table.remove("cloudTrailAlarms") {
            let mut text = |k: &str| match alarms.remove(k) {
                Some(Value::String(s)) => Some(s),
                _ => None,
            };
            let (group, arn, name) = (
                text("logGroupName"),
                text("snsTopicArn"),
                text("snsTopicName"),
            );
            let create = alarms.remove("logGroupCreate").and_then(|v| v.as_bool());
            d.set_cloud_trail(group, create, arn, name);
            // Keys no question covers are carried, so the validator still sees a typo.
            if !alarms.is_empty() {
                table.insert("cloudTrailAlarms".into(), Value::Table(alarms));
            }
        }
        for id in FieldId::ALL {
            let taken = match id.key().split_once('.') {
                Some((t, key)) => match table.get_mut(t) {
                    Some(Value::Table(inner)) => inner.remove(key),
                    _ => None,
                },
                None if MANAGED_TOP.contains(&id.key()) => table.remove(id.key()),
                None => None,
            };
            if let Some(v) = taken {
                d.set(id, untyped(&v));
            }
        }
        // The settings the app and the server share may be given on either side (see
        // answers::validate::app_keys); the question takes whichever is there, so the answers
        // it writes never hold the old value on the other side.
        for (id, top_key, server_key) in [
            (FieldId::GoogleClientId, "googleClientId", "googleClientId"),
            (
                FieldId::RegisterEnabled,
                "registerEnabled",
                "registerEnabled",
            ),
        ] {
            let top = table.remove(top_key);
            let below = match table.get_mut("server") {
                Some(Value::Table(inner)) => inner.remove(server_key),
                _ => None,
            };
            if !d.is_set(id)
                && let Some(v) = top.or(below)
            {
                d.set(id, untyped(&v));
            }
        }
        if d.is_set(FieldId::SigningKeyId) {
            d.set(FieldId::KeyMode, "existing".into());
        }
        if d.is_set(FieldId::LbLoggingBucket) && !d.is_set(FieldId::LbLogging) {
            d.set(FieldId::LbLogging, "true".into());
        }
        d.open_advanced();
        table.retain(|_, v| !matches!(v, Value::Table(t) if t.is_empty()));
        strip_secrets(&mut table);
        d.extra = table;
        Ok(d)
    }

    /// Lays the values of an existing config file over the draft: a hand edit of the file wins
    /// over what an earlier guided run remembered. `key_recorded` says whether the journal knows
    /// a signing key medplum-init made (then the file's key id is that key, not a user's own).
    pub fn overlay_config(&mut self, doc: &ConfigDocument, recorded: &Recorded) {
        let key_recorded = recorded.signing_key;
        for id in FieldId::ALL {
            let key = id.key();
            if key.contains('.') || !MANAGED_TOP.contains(&key) {
                continue;
            }
            if let Some(v) = doc.map.get(key)
                && let Some(s) = json_text(v)
                && !s.is_empty()
            {
                self.set(id, s);
            }
        }
        if let Some(alarms) = doc.map.get("cloudTrailAlarms").and_then(|v| v.as_object()) {
            let text = |k: &str| alarms.get(k).and_then(|v| v.as_str()).map(str::to_string);
            self.set_cloud_trail(
                text("logGroupName"),
                alarms.get("logGroupCreate").and_then(|v| v.as_bool()),
                text("snsTopicArn"),
                text("snsTopicName"),
            );
        }
        if let Some(z) = doc.get_str("hostedZoneName").filter(|z| !z.is_empty()) {
            self.set(FieldId::Zone, format!("zone:{z}"));
        }
        if doc.map.get("skipDns").and_then(|v| v.as_bool()) == Some(true) {
            self.set(FieldId::Zone, "skip".into());
        }
        for (key, purpose, id) in [
            ("apiSslCertArn", "api", FieldId::CertApi),
            ("appSslCertArn", "app", FieldId::CertApp),
            ("storageSslCertArn", "storage", FieldId::CertStorage),
        ] {
            // A certificate an earlier run found or requested keeps its earlier choice ("auto"
            // finds it again); any other ARN in the file was put there by hand and wins.
            if let Some(arn) = doc.get_str(key).filter(|a| a.starts_with("arn:"))
                && recorded.certificates.get(purpose).map(String::as_str) != Some(arn)
            {
                self.set(id, arn.to_string());
            }
        }
        if key_recorded {
            self.clear(FieldId::SigningKeyId);
            self.clear(FieldId::KeyMode);
        } else if self.is_set(FieldId::SigningKeyId) {
            self.set(FieldId::KeyMode, "existing".into());
        }
        if self.is_set(FieldId::LbLoggingBucket) {
            self.set(FieldId::LbLogging, "true".into());
        }
        self.open_advanced();
    }

    /// The `cloudTrailAlarms` table as answers. Its absent keys keep the CDK's meaning, not the
    /// questions' defaults: no `logGroupCreate` is an existing group, no topic key a topic
    /// CloudFormation names.
    fn set_cloud_trail(
        &mut self,
        group: Option<String>,
        create: Option<bool>,
        arn: Option<String>,
        name: Option<String>,
    ) {
        self.set(FieldId::CloudTrail, "true".into());
        if let Some(g) = group {
            self.set(FieldId::TrailLogGroup, g);
        }
        self.set(FieldId::TrailCreate, create.unwrap_or(false).to_string());
        let topic = arn.filter(|a| !a.is_empty()).or(name).unwrap_or_default();
        self.set(FieldId::AlarmTopic, topic);
    }

    /// An advanced answer switched on reopens the advanced questions, so it is shown and kept
    /// (a hidden question's answer is not written).
    fn open_advanced(&mut self) {
        let on = [
            FieldId::RdsProxy,
            FieldId::RdsPersistentGroups,
            FieldId::RdsIdsSuffix,
            FieldId::CloudTrail,
        ]
        .into_iter()
        .any(|f| self.values.get(&f).map(String::as_str) == Some("true"))
            || self
                .values
                .get(&FieldId::VpcId)
                .is_some_and(|v| !v.is_empty());
        if on {
            self.set(FieldId::Advanced, "true".into());
        }
    }

    /// The text `--save-answers` writes: the answers with a header, and no secret values.
    pub fn saveable_toml(&self, k: &Known) -> String {
        let mut table: Table = toml::from_str(&self.to_toml(k)).expect("own output parses");
        strip_secrets(&mut table);
        let body = toml::to_string(&table).expect("answers tables serialise");
        format!(
            "# Answers from a guided install of medplum-init. Replay it headless with\n\
             #   medplum-init --answers <this file> --yes\n\
             # It holds no secrets: the signing key is generated (or reused from SSM) by the run.\n\n{body}"
        )
    }
}

fn strip_secrets(table: &mut Table) {
    if let Some(Value::Table(s)) = table.get_mut("server") {
        s.retain(|k, _| !server::is_secret(k));
    }
}

fn typed(id: FieldId, value: &str) -> Value {
    match id {
        FieldId::MaxAzs
        | FieldId::RdsInstances
        | FieldId::ServerCount
        | FieldId::ServerCpu
        | FieldId::ServerMemory => value
            .parse::<i64>()
            .map(Value::Integer)
            .unwrap_or_else(|_| Value::String(value.into())),
        _ if id.kind() == Kind::Toggle => Value::Boolean(value == "true"),
        _ => Value::String(value.into()),
    }
}

fn untyped(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Integer(i) => i.to_string(),
        Value::Boolean(b) => b.to_string(),
        other => other.to_string(),
    }
}

fn json_text(v: &serde_json::Value) -> Option<String> {
    match v {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        serde_json::Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filled() -> Draft {
        let mut d = Draft::default();
        d.set(FieldId::DomainName, "example.com".into());
        d
    }

    #[test]
    fn defaults_alone_make_valid_answers() {
        let k = Known::default();
        let a = filled().answers(&k, &Overrides::default()).unwrap();
        assert_eq!(a.env(), "staging");
        assert_eq!(a.api_domain(), "api.example.com");
        assert_eq!(a.support_email(), "support@example.com");
        assert_eq!(a.cdk["serverMemory"], 512);
    }

    #[test]
    fn toml_round_trips() {
        let k = Known::default();
        let mut d = filled();
        d.set(FieldId::Zone, "zone:example.com".into());
        d.set(FieldId::CertApi, "skip".into());
        d.set(FieldId::LbLogging, "true".into());
        d.set(FieldId::LogLevel, "WARN".into());
        let text = d.to_toml(&k);
        let back = Draft::from_toml(&text).unwrap();
        assert_eq!(back.to_toml(&k), text);
        assert!(text.contains("[certificates]\napi = \"skip\""), "{text}");
        assert!(text.contains("loadBalancerLoggingBucket = \"medplum-staging-logs\""));
        assert!(!text.contains("hostedZoneName"), "{text}");
        // Written although it is the default: the app's default is not the server's.
        assert!(text.contains("registerEnabled = true"), "{text}");
        assert!(
            !text.contains("clientId"),
            "empty optional answers are left out: {text}"
        );
    }

    /// The advanced database answers: written only while "Advanced options" is on, and an
    /// answers text that sets one reopens them, so a re-run keeps it.
    #[test]
    fn advanced_answers_reopen_their_questions() {
        let k = Known::default();
        let mut d = filled();
        d.set(FieldId::RdsPersistentGroups, "true".into());
        assert!(!d.to_toml(&k).contains("rdsPersistentParameterGroups"));
        d.set(FieldId::Advanced, "true".into());
        d.set(FieldId::RdsIdsSuffix, "true".into());
        let text = d.to_toml(&k);
        assert!(
            text.contains("rdsPersistentParameterGroups = true"),
            "{text}"
        );
        assert!(text.contains("rdsIdsMajorVersionSuffix = true"), "{text}");
        assert!(!text.contains("advanced"), "{text}");
        let back = Draft::from_toml(&text).unwrap();
        assert_eq!(back.value(FieldId::Advanced, &k), "true");
        assert_eq!(back.to_toml(&k), text);
        // The suffix is not asked (nor written) without the persistent groups.
        let mut d = back;
        d.set(FieldId::RdsPersistentGroups, "false".into());
        assert!(!d.to_toml(&k).contains("rdsIdsMajorVersionSuffix"));
    }

    /// The CloudTrail questions write the CDK's table, and read it back keeping the meaning of
    /// what it leaves out (no `logGroupCreate`: an existing group; no topic: a generated name).
    #[test]
    fn cloudtrail_answers_round_trip_as_the_cdk_table() {
        let k = Known::default();
        let mut d = filled();
        d.set(FieldId::Advanced, "true".into());
        d.set(FieldId::CloudTrail, "true".into());
        d.set(
            FieldId::AlarmTopic,
            "arn:aws:sns:us-east-1:123456789012:sec".into(),
        );
        let text = d.to_toml(&k);
        let table: Table = toml::from_str(&text).unwrap();
        let env = d.value(FieldId::Name, &k);
        assert_eq!(
            table["cloudTrailAlarms"],
            Value::Table(
                toml::from_str(&format!(
                    "logGroupName = \"medplum-{env}-cloudtrail\"\nlogGroupCreate = true\n\
                     snsTopicArn = \"arn:aws:sns:us-east-1:123456789012:sec\"\n"
                ))
                .unwrap()
            ),
            "{text}"
        );
        assert!(!text.contains("cloudTrail ="), "{text}");
        assert_eq!(Draft::from_toml(&text).unwrap().to_toml(&k), text);

        let sparse = text.replace(
            &text[text.find("[cloudTrailAlarms]").unwrap()..],
            "[cloudTrailAlarms]\nlogGroupName = \"org-trail\"\nlogGroupTypo = 1\n",
        );
        let back = Draft::from_toml(&sparse).unwrap();
        assert_eq!(back.value(FieldId::Advanced, &k), "true");
        assert_eq!(back.value(FieldId::TrailCreate, &k), "false");
        assert_eq!(back.value(FieldId::AlarmTopic, &k), "");
        let again = back.to_toml(&k);
        assert!(again.contains("logGroupCreate = false"), "{again}");
        assert!(!again.contains("snsTopic"), "{again}");
        assert!(again.contains("logGroupTypo = 1"), "{again}");

        // Switched off, nothing of it is written.
        let mut off = back;
        off.set(FieldId::CloudTrail, "false".into());
        let off = off.to_toml(&k);
        assert!(!off.contains("cloudTrailAlarms"), "{off}");
    }

    #[test]
    fn unknown_keys_survive_and_secrets_do_not() {
        let k = Known::default();
        let d = Draft::from_toml(
            "name = \"prod\"\ndomainName = \"example.com\"\nrdsInstanceVersion = \"16.9\"\n\
             [server]\nsupportEmail = \"a@example.com\"\ngoogleClientSecret = \"s3cr3t\"\n\
             allowedOrigins = \"https://x.example.com\"\n",
        )
        .unwrap();
        let text = d.to_toml(&k);
        assert!(text.contains("rdsInstanceVersion = \"16.9\""), "{text}");
        assert!(text.contains("allowedOrigins"), "{text}");
        assert!(!text.contains("s3cr3t"), "{text}");
        assert!(!d.saveable_toml(&k).contains("s3cr3t"));
        let a = d.answers(&k, &Overrides::default()).unwrap();
        assert_eq!(a.env(), "prod");
    }

    #[test]
    fn config_values_overlay_the_draft() {
        let mut d = filled();
        let mut doc = ConfigDocument::default();
        doc.set("apiDomainName", serde_json::json!("api.hand.example.com"));
        doc.set("serverCpu", serde_json::json!(1024));
        doc.set("serverMemory", serde_json::json!(2048));
        doc.set(
            "appSslCertArn",
            serde_json::json!("arn:aws:acm:us-east-1:123456789012:certificate/abc"),
        );
        doc.set("signingKeyId", serde_json::json!("K2JCJMDEHXQW5F"));
        let mut rec = Recorded {
            signing_key: true,
            ..Default::default()
        };
        rec.certificates.insert(
            "api".into(),
            "arn:aws:acm:us-east-1:123456789012:certificate/mine".into(),
        );
        doc.set(
            "apiSslCertArn",
            serde_json::json!("arn:aws:acm:us-east-1:123456789012:certificate/mine"),
        );
        d.overlay_config(&doc, &rec);
        assert_eq!(d.value(FieldId::CertApi, &Known::default()), "auto");
        let k = Known::default();
        assert_eq!(d.value(FieldId::ApiDomain, &k), "api.hand.example.com");
        assert_eq!(d.value(FieldId::ServerMemory, &k), "2048");
        assert_eq!(d.value(FieldId::KeyMode, &k), "generate");
        assert!(d.value(FieldId::CertApp, &k).starts_with("arn:"));
        let mut d2 = filled();
        d2.overlay_config(&doc, &Recorded::default());
        assert_eq!(d2.value(FieldId::KeyMode, &k), "existing");
    }
}
