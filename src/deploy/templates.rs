//! Where the deploy commands get their templates.
//!
//! * [`load_dir`]: templates written to a directory by `medplum-init synth --out DIR` (or a CDK
//!   `cdk.out`), one `<StackName>.template.json` per stack. `deploy --templates DIR` and
//!   `diff --templates DIR` use it; it is also how a reviewed set of templates is deployed as is.
//! * [`synthesize`]: the synthesizer (`crate::deploy::synth`) with the lookups of the config's
//!   `cdk.context.json`, completed from Route53 when needed.

use std::path::{Path, PathBuf};

use super::StackTemplate;
use crate::aws::AwsClients;
use crate::config::US_EAST_1;
use crate::config::infra::InfraConfig;
use crate::error::Diagnostic;
use crate::outcome::Outcome;

/// The stack tag `medplum aws list/describe` find stacks by.
pub const ENV_TAG: &str = "medplum:environment";

#[derive(Debug, thiserror::Error)]
pub enum TemplatesError {
    #[error("could not read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is not a JSON template: {source}")]
    Parse {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error(
        "{path} is the template of stack '{stack}', which this config does not deploy (expected {expected})"
    )]
    UnknownStack {
        path: PathBuf,
        stack: String,
        expected: String,
    },
    #[error("{dir} holds no template of stack {stack} (looked for {stack}.template.json)")]
    Missing { dir: PathBuf, stack: String },
    #[error(transparent)]
    Synth(#[from] super::SynthError),
    #[error(transparent)]
    Context(#[from] super::context::ContextError),
}

impl Diagnostic for TemplatesError {
    fn outcome(&self) -> Outcome {
        match self {
            TemplatesError::Synth(e) => e.outcome(),
            TemplatesError::Context(e) => e.outcome(),
            // The templates named by --templates are the user's files.
            _ => Outcome::Invalid,
        }
    }

    fn hint(&self) -> Option<String> {
        match self {
            TemplatesError::Synth(e) => e.hint(),
            TemplatesError::Context(e) => e.hint(),
            TemplatesError::UnknownStack { .. } => {
                Some("point --templates at the templates of this environment only".into())
            }
            _ => None,
        }
    }
}

/// The stack tags every stack of `config` carries.
pub fn stack_tags(config: &InfraConfig) -> Vec<(String, String)> {
    vec![(ENV_TAG.to_string(), config.name.clone())]
}

/// The name of the us-east-1 companion stack.
pub fn companion_name(config: &InfraConfig) -> String {
    format!("{}-{US_EAST_1}", config.stack_name)
}

/// Reads `<StackName>.template.json` files: the primary stack (required) and the us-east-1
/// companion (when present), primary first.
pub fn load_dir(dir: &Path, config: &InfraConfig) -> Result<Vec<StackTemplate>, TemplatesError> {
    let read_err = |source| TemplatesError::Read {
        path: dir.to_path_buf(),
        source,
    };
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(read_err)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.ends_with(".template.json"))
        })
        .collect();
    entries.sort();
    let primary = config.stack_name.clone();
    let companion = companion_name(config);
    let mut out = Vec::new();
    for path in entries {
        let stack = path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_suffix(".template.json"))
            .unwrap_or_default()
            .to_string();
        let region = if stack == primary {
            config.region.clone()
        } else if stack == companion && config.region != US_EAST_1 {
            US_EAST_1.to_string()
        } else {
            return Err(TemplatesError::UnknownStack {
                path,
                stack,
                expected: format!("{primary} or {companion}"),
            });
        };
        let text = std::fs::read_to_string(&path).map_err(|source| TemplatesError::Read {
            path: path.clone(),
            source,
        })?;
        let template = serde_json::from_str(&text).map_err(|source| TemplatesError::Parse {
            path: path.clone(),
            source,
        })?;
        out.push(StackTemplate {
            name: stack,
            region,
            template,
            tags: stack_tags(config),
            inputs: Vec::new(),
        });
    }
    if !out.iter().any(|t| t.name == primary) {
        return Err(TemplatesError::Missing {
            dir: dir.to_path_buf(),
            stack: primary,
        });
    }
    out.sort_by_key(|t| t.name != primary);
    infer_inputs(&mut out);
    Ok(out)
}

/// Templates read from disk carry no input list: a parameter without a default that is named
/// like an output of an earlier stack takes that output (the names `synth` gives both sides).
pub fn infer_inputs(stacks: &mut [StackTemplate]) {
    for i in 1..stacks.len() {
        let (earlier, rest) = stacks.split_at_mut(i);
        let t = &mut rest[0];
        let Some(params) = t.template.get("Parameters").and_then(|p| p.as_object()) else {
            continue;
        };
        for (name, spec) in params {
            if spec.get("Default").is_some() {
                continue;
            }
            if let Some(from) = earlier.iter().find(|e| {
                e.template
                    .get("Outputs")
                    .and_then(|o| o.get(name))
                    .is_some()
            }) {
                t.inputs.push(super::StackInput {
                    parameter: name.clone(),
                    from_stack: from.name.clone(),
                    output: name.clone(),
                });
            }
        }
    }
}

/// The templates for `config`, with the lookups from `cdk.context.json` in `dir` (completed from
/// Route53 and recorded when the file lacks the hosted zone).
pub async fn synthesize(
    config: &InfraConfig,
    aws: &AwsClients,
    dir: &Path,
) -> Result<Vec<StackTemplate>, TemplatesError> {
    let (lookups, _) = super::context::lookups_for(dir, config, Some(aws)).await?;
    Ok(super::synth(config, &lookups)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::deploy::testkit::reference_config as config;

    #[test]
    fn reads_the_primary_and_the_companion_primary_first() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path()
                .join("MedplumStagingStack-us-east-1.template.json"),
            r#"{"Resources":{}}"#,
        )
        .unwrap();
        std::fs::write(
            dir.path().join("MedplumStagingStack.template.json"),
            r#"{"Resources":{"P":{"Type":"AWS::SSM::Parameter"}}}"#,
        )
        .unwrap();
        std::fs::write(dir.path().join("manifest.json"), "{}").unwrap();
        let t = load_dir(dir.path(), &config("eu-west-1")).unwrap();
        assert_eq!(t.len(), 2);
        assert_eq!(
            (t[0].name.as_str(), t[0].region.as_str()),
            ("MedplumStagingStack", "eu-west-1")
        );
        assert_eq!(t[1].region, "us-east-1");
        assert_eq!(
            t[0].tags,
            vec![(ENV_TAG.to_string(), "staging".to_string())]
        );
    }

    #[test]
    fn inputs_are_inferred_from_matching_outputs_and_parameters() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("MedplumStagingStack.template.json"),
            r#"{"Resources":{},"Outputs":{"AppOriginAccessIdentity":{"Value":"x"}}}"#,
        )
        .unwrap();
        std::fs::write(
            dir.path().join("MedplumStagingStack-us-east-1.template.json"),
            r#"{"Resources":{},"Parameters":{"AppOriginAccessIdentity":{"Type":"String"},"Other":{"Type":"String","Default":"d"}}}"#,
        )
        .unwrap();
        let t = load_dir(dir.path(), &config("eu-west-1")).unwrap();
        assert!(t[0].inputs.is_empty());
        assert_eq!(t[1].inputs.len(), 1);
        assert_eq!(t[1].inputs[0].from_stack, "MedplumStagingStack");
        assert_eq!(t[1].inputs[0].parameter, "AppOriginAccessIdentity");
    }

    #[test]
    fn refuses_foreign_and_missing_stacks() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("Other.template.json"), "{}").unwrap();
        assert!(matches!(
            load_dir(dir.path(), &config("us-east-1")),
            Err(TemplatesError::UnknownStack { .. })
        ));
        let empty = tempfile::tempdir().unwrap();
        assert!(matches!(
            load_dir(empty.path(), &config("us-east-1")),
            Err(TemplatesError::Missing { .. })
        ));
    }
}
