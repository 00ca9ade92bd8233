//! The `cloudTrailAlarms` table of Medplum's CDK config (`logGroupName`, `logGroupCreate`,
//! `snsTopicArn`, `snsTopicName`): its one reading, shared by the answers validator and the
//! synthesizer so that both refuse the same tables with the same words.
//!
//! The CDK reads the table loosely (a missing `logGroupName` synthesizes a metric filter on a log
//! group named `undefined`); here every key is checked against what CloudWatch Logs and SNS accept,
//! and a key the CDK does not read is an error rather than silently ignored.

use serde_json::{Map, Value};

use super::validators::arn_parts;

/// The parsed table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloudTrailAlarms {
    /// The CloudWatch Logs group the trail writes to and the metric filters read.
    pub log_group_name: String,
    /// `true`: the stack creates the log group and a multi-region trail writing to it (with its
    /// bucket and role). `false`: the group exists already and some trail writes to it.
    pub log_group_create: bool,
    pub topic: AlarmTopic,
}

/// Where the alarms send their notifications.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AlarmTopic {
    /// `snsTopicArn`: an existing topic.
    Existing(String),
    /// A topic the stack creates, named `snsTopicName` or by CloudFormation.
    New(Option<String>),
}

/// A problem with one key of the table: the key's dotted path, what is wrong, the fix.
pub type KeyProblem = (String, String, String);

/// The table's keys, as `@medplum/core`'s `MedplumInfraConfig` types them.
pub const KEYS: &[&str] = &[
    "logGroupName",
    "logGroupCreate",
    "snsTopicArn",
    "snsTopicName",
];
const EXAMPLE: &str = "{\"logGroupName\": \"medplum-cloudtrail\", \"logGroupCreate\": true, \"snsTopicName\": \
     \"medplum-alarms\"}";

fn problem(key: &str, what: impl Into<String>, fix: impl Into<String>) -> KeyProblem {
    (format!("cloudTrailAlarms.{key}"), what.into(), fix.into())
}

/// Reads the table; `Ok(None)` for `null` (the key unset).
pub fn parse(value: &Value) -> Result<Option<CloudTrailAlarms>, KeyProblem> {
    let obj: &Map<String, Value> = match value {
        Value::Null => return Ok(None),
        Value::Object(m) => m,
        _ => {
            return Err((
                "cloudTrailAlarms".into(),
                "not a table".into(),
                format!("write it as {EXAMPLE}"),
            ));
        }
    };
    if let Some(k) = obj.keys().find(|k| !KEYS.contains(&k.as_str())) {
        return Err(problem(
            k,
            "not a key of cloudTrailAlarms",
            format!("use {} (keys are case-sensitive)", KEYS.join(", ")),
        ));
    }
    let string = |k: &str| -> Result<Option<&str>, KeyProblem> {
        match obj.get(k) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) if s.is_empty() => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(other) => Err(problem(
                k,
                format!("{other} is not a string"),
                "write it in quotes",
            )),
        }
    };
    let log_group_name = string("logGroupName")?
        .ok_or_else(|| {
            problem(
                "logGroupName",
                "missing",
                "name the CloudWatch Logs group the trail writes to, e.g. medplum-cloudtrail",
            )
        })?
        .to_string();
    log_group(&log_group_name)?;
    let log_group_create = match obj.get("logGroupCreate") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(other) => {
            return Err(problem(
                "logGroupCreate",
                format!("{other} is not true or false"),
                "write true to create the log group and a trail, false to use an existing group",
            ));
        }
    };
    let topic = match (string("snsTopicArn")?, string("snsTopicName")?) {
        (Some(_), Some(_)) => {
            return Err(problem(
                "snsTopicName",
                "set together with snsTopicArn",
                "keep snsTopicArn to use an existing topic, or snsTopicName to create one",
            ));
        }
        (Some(arn), None) => {
            topic_arn(arn)?;
            AlarmTopic::Existing(arn.to_string())
        }
        (None, name) => {
            if let Some(n) = name {
                topic_name(n)?;
            }
            AlarmTopic::New(name.map(str::to_string))
        }
    };
    Ok(Some(CloudTrailAlarms {
        log_group_name,
        log_group_create,
        topic,
    }))
}

/// CloudWatch Logs: 1 to 512 of `[.\-_/#A-Za-z0-9]`.
fn log_group(s: &str) -> Result<(), KeyProblem> {
    let ok = s.len() <= 512
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || ".-_/#".contains(c));
    if ok {
        Ok(())
    } else {
        Err(problem(
            "logGroupName",
            format!("'{s}' is not a log group name"),
            "use up to 512 letters, digits and . - _ / #",
        ))
    }
}

/// SNS standard topics: 1 to 256 of `[A-Za-z0-9_-]` (alarms cannot notify FIFO topics).
fn topic_name(s: &str) -> Result<(), KeyProblem> {
    let ok = s.len() <= 256
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if ok {
        Ok(())
    } else {
        Err(problem(
            "snsTopicName",
            format!("'{s}' is not an SNS topic name"),
            "use up to 256 letters, digits, - and _ (a standard topic: alarms cannot notify FIFO \
             topics)",
        ))
    }
}

fn topic_arn(s: &str) -> Result<(), KeyProblem> {
    let ok = arn_parts(s).is_some_and(|p| {
        p[2] == "sns"
            && !p[3].is_empty()
            && p[4].len() == 12
            && p[4].chars().all(|c| c.is_ascii_digit())
            && topic_name(p[5]).is_ok()
            && !p[5].is_empty()
    });
    if ok {
        Ok(())
    } else {
        Err(problem(
            "snsTopicArn",
            format!("'{s}' is not an SNS topic ARN"),
            "use an ARN like arn:aws:sns:<region>:<account>:<topic>",
        ))
    }
}

/// Checks a log group name, for the guided install's question.
pub fn check_log_group(s: &str) -> super::validators::Check {
    log_group(s).map_err(|(_, p, f)| (p, f))
}

/// Checks the guided install's one topic answer: an ARN (an existing topic) or a name (a new one).
pub fn check_topic(s: &str) -> super::validators::Check {
    if s.starts_with("arn:") {
        topic_arn(s)
    } else {
        topic_name(s)
    }
    .map_err(|(_, p, f)| (p, f))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn key_of(v: Value) -> String {
        parse(&v).unwrap_err().0
    }

    #[test]
    fn reads_the_four_keys() {
        let c = parse(&json!({"logGroupName": "a/b", "logGroupCreate": true, "snsTopicName": "t"}))
            .unwrap()
            .unwrap();
        assert_eq!(c.log_group_name, "a/b");
        assert!(c.log_group_create);
        assert_eq!(c.topic, AlarmTopic::New(Some("t".into())));
        let c = parse(&json!({"logGroupName": "g",
            "snsTopicArn": "arn:aws:sns:eu-west-1:123456789012:ops"}))
        .unwrap()
        .unwrap();
        assert!(
            !c.log_group_create,
            "absent means an existing group, as in the CDK"
        );
        assert_eq!(
            c.topic,
            AlarmTopic::Existing("arn:aws:sns:eu-west-1:123456789012:ops".into())
        );
        assert_eq!(parse(&Value::Null).unwrap(), None);
    }

    #[test]
    fn names_the_key_at_fault() {
        assert_eq!(key_of(json!({})), "cloudTrailAlarms.logGroupName");
        assert_eq!(
            key_of(json!({"logGroupName": "bad name"})),
            "cloudTrailAlarms.logGroupName"
        );
        assert_eq!(
            key_of(json!({"logGroupName": "g", "logGroupCreate": "yes"})),
            "cloudTrailAlarms.logGroupCreate"
        );
        assert_eq!(
            key_of(
                json!({"logGroupName": "g", "snsTopicArn": "arn:aws:sqs:eu-west-1:123456789012:q"})
            ),
            "cloudTrailAlarms.snsTopicArn"
        );
        assert_eq!(
            key_of(json!({"logGroupName": "g", "snsTopicName": "x.fifo"})),
            "cloudTrailAlarms.snsTopicName"
        );
        assert_eq!(
            key_of(json!({"logGroupName": "g", "snsTopicName": "x",
                "snsTopicArn": "arn:aws:sns:eu-west-1:123456789012:q"})),
            "cloudTrailAlarms.snsTopicName"
        );
        assert_eq!(
            key_of(json!({"logGroupName": "g", "logGroupcreate": true})),
            "cloudTrailAlarms.logGroupcreate"
        );
        assert_eq!(key_of(json!(["g"])), "cloudTrailAlarms");
        assert_eq!(
            key_of(json!({"logGroupName": "x".repeat(513)})),
            "cloudTrailAlarms.logGroupName"
        );
    }
}
