//! The settings the web app and the server share: `googleClientId`, `recaptchaSiteKey` and
//! `registerEnabled` are CDK config keys for the app (Medplum's `update-app` puts them into its
//! JavaScript) and `[server]` keys for the server (`/medplum/<env>/<key>`). Given in one place,
//! the other gets the same value, so Google sign-in, reCAPTCHA and the register page agree on
//! both sides; given in both with different values is an error, not a silent pick.

use serde_json::{Map, Value};

use super::super::ServerValue;
use super::super::source::Table;
use super::{Validator, line_of};
use crate::config::validators;

/// The keys set on both sides.
const SHARED: &[&str] = &["googleClientId", "recaptchaSiteKey", "registerEnabled"];

/// A CDK value in the parameter's text form (`true`, not `Bool(true)`).
fn as_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

impl Validator {
    pub(super) fn share_app_keys(
        &mut self,
        cdk: &mut Map<String, Value>,
        given: &mut Vec<String>,
        server: &mut Vec<(String, ServerValue)>,
        table: &Table,
    ) {
        for &key in SHARED {
            let top = given
                .iter()
                .any(|g| g == key)
                .then(|| cdk.get(key).and_then(as_text))
                .flatten();
            let below = server
                .iter()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v.expose().to_string());
            match (top, below) {
                (Some(a), Some(b)) if a != b => self.err(
                    key,
                    line_of(table, key),
                    (
                        format!(
                            "{key} is '{}' here and '{}' under [server]",
                            validators::shown(&a),
                            validators::shown(&b)
                        ),
                        format!(
                            "give {key} once (either place): the app and the server must agree"
                        ),
                    ),
                ),
                (Some(a), None) => server.push((key.to_string(), ServerValue::Plain(a))),
                (None, Some(b)) => {
                    // [server]'s checks held it to the CDK key's rule (see `server`).
                    let value = if key == "registerEnabled" {
                        Value::Bool(b == "true")
                    } else {
                        Value::String(b)
                    };
                    cdk.insert(key.to_string(), value);
                    given.push(key.to_string());
                }
                _ => {}
            }
        }
    }
}
