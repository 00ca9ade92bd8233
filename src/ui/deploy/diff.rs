//! The plan of a deploy, Terraform-style: per stack, resources grouped like the progress panes,
//! `+` add, `~` modify, `-` remove, `-/+` replace (highlighted, with the properties that force
//! it), then a summary line per stack and one for the whole plan.

use crate::config::validators::escape_controls;
use crate::deploy::changeset::{
    ChangeAction, ChangeSetKind, DiffSummary, ResourceChange, StackDiff,
};
use crate::deploy::guard::{Risk, Severity};
use crate::deploy::progress::Group;
use crate::printer::style::Style;

fn symbol(c: &ResourceChange, s: Style) -> String {
    match c.action {
        ChangeAction::Add | ChangeAction::Import => s.green("  +"),
        ChangeAction::Remove => s.red("  -"),
        ChangeAction::Modify | ChangeAction::Dynamic if c.replaces() => s.red(&s.bold("-/+")),
        ChangeAction::Modify | ChangeAction::Dynamic => s.yellow("  ~"),
    }
}

fn remark(c: &ResourceChange, s: Style) -> String {
    let props = if c.replacing_properties.is_empty() {
        String::new()
    } else {
        format!(": {}", c.replacing_properties.join(", "))
    };
    if c.replaces() {
        format!("  {}", s.red(&s.bold(&format!("(replaced{props})"))))
    } else if c.may_replace() {
        format!("  {}", s.yellow(&format!("(may be replaced{props})")))
    } else if c.action == ChangeAction::Import {
        format!("  {}", s.dim("(imported)"))
    } else if c.action == ChangeAction::Dynamic {
        format!("  {}", s.dim("(decided at deploy time)"))
    } else {
        String::new()
    }
}

/// One stack's diff.
pub fn render_stack(d: &StackDiff, s: Style) -> String {
    let mut out = String::new();
    let kind = match d.kind {
        ChangeSetKind::Create => "new stack",
        ChangeSetKind::Update => "update",
    };
    out.push_str(&format!("{} ({}, {kind})\n", s.bold(&d.stack), d.region));
    if let Some(note) = &d.note {
        out.push_str(&format!("  {}\n", s.yellow(&format!("note: {note}"))));
    }
    if d.changes.is_empty() {
        out.push_str(&format!("  {}\n", s.dim("no changes")));
        return out;
    }
    let width = d
        .changes
        .iter()
        .map(|c| c.logical_id.chars().count())
        .max()
        .unwrap_or(0)
        .min(56);
    for g in Group::ALL {
        let rows: Vec<&ResourceChange> = d
            .changes
            .iter()
            .filter(|c| Group::of(&c.resource_type) == g)
            .collect();
        if rows.is_empty() {
            continue;
        }
        out.push_str(&format!("  {}\n", s.bold(g.title())));
        for c in rows {
            out.push_str(&format!(
                "  {} {:<width$}  {}{}\n",
                symbol(c, s),
                c.logical_id,
                s.dim(&c.resource_type),
                remark(c, s),
            ));
            out.push_str(&render_properties(c, s));
        }
    }
    out.push_str(&format!("  {}\n", d.summary().line()));
    out.push_str(&render_risks(&d.risks, s));
    out
}

/// Longest property value shown; longer ones (a task definition's container list) are cut.
const VALUE_CHARS: usize = 60;

/// Under a modified row, what it changes: one line per property, with the values when
/// CloudFormation gives them (`DesiredCount: 1 -> 2`), so an update says what it updates.
fn render_properties(c: &ResourceChange, s: Style) -> String {
    if !matches!(c.action, ChangeAction::Modify | ChangeAction::Dynamic) {
        return String::new();
    }
    let value = |v: &Option<String>| {
        v.as_deref()
            .map(|v| escape_controls(v, VALUE_CHARS))
            .unwrap_or_else(|| "(unset)".into())
    };
    let mut out = String::new();
    for p in &c.properties {
        let line = if p.before.is_none() && p.after.is_none() {
            p.name.clone()
        } else {
            format!("{}: {} -> {}", p.name, value(&p.before), value(&p.after))
        };
        out.push_str(&format!("        {}\n", s.dim(&line)));
    }
    out
}

/// The stack's data risks under its summary: `!` blocking in red, `*` cautions in yellow, each
/// with its fix indented below.
fn render_risks(risks: &[Risk], s: Style) -> String {
    if risks.is_empty() {
        return String::new();
    }
    let mut out = format!("  {}\n", s.bold("Stored data:"));
    for r in risks {
        let line = format!("{} {}", r.logical_id, r.what);
        let line = match r.severity {
            Severity::Blocking => s.red(&format!("  ! {line}")),
            Severity::Caution => s.yellow(&format!("  * {line}")),
        };
        out.push_str(&format!("{line}\n"));
        if let Some(fix) = &r.fix {
            out.push_str(&format!("      {}\n", s.dim(fix)));
        }
    }
    out
}

/// Every stack's diff, then the plan's summary (`Plan: 2 to add, ...` or `No changes.`).
pub fn render(diffs: &[StackDiff], s: Style) -> String {
    let mut out = String::new();
    for d in diffs {
        out.push_str(&render_stack(d, s));
        out.push('\n');
    }
    let total = DiffSummary::of(diffs.iter().flat_map(|d| &d.changes));
    if total.total() == 0 {
        out.push_str(&format!(
            "{} The stacks match the templates.\n",
            s.bold("No changes.")
        ));
    } else {
        out.push_str(&format!("{} {}.\n", s.bold("Plan:"), total.line()));
    }
    let blocking = diffs
        .iter()
        .flat_map(|d| &d.risks)
        .filter(|r| r.severity == Severity::Blocking)
        .count();
    if blocking > 0 {
        let what = if blocking == 1 {
            "1 change puts".to_string()
        } else {
            format!("{blocking} changes put")
        };
        out.push_str(&s.red(&format!(
            "{what} stored data at risk (marked !): a deploy needs --allow-data-risk.\n"
        )));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::deploy::changeset::Replacement;

    fn c(
        action: ChangeAction,
        id: &str,
        ty: &str,
        r: Option<Replacement>,
        props: &[&str],
    ) -> ResourceChange {
        ResourceChange {
            action,
            logical_id: id.into(),
            resource_type: ty.into(),
            replacement: r,
            replacing_properties: props.iter().map(|p| p.to_string()).collect(),
            scope: vec![],
            properties: Vec::new(),
        }
    }

    #[test]
    fn a_modified_row_lists_its_properties_with_their_values() {
        use crate::deploy::changeset::PropertyChange;
        let mut service = c(
            ChangeAction::Modify,
            "BackEndFargateService",
            "AWS::ECS::Service",
            Some(Replacement::Never),
            &[],
        );
        service.properties = vec![
            PropertyChange {
                name: "DesiredCount".into(),
                before: Some("1".into()),
                after: Some("2".into()),
            },
            PropertyChange {
                name: "Tags".into(),
                before: None,
                after: None,
            },
            PropertyChange {
                name: "Note".into(),
                before: None,
                after: Some(format!("\u{1b}[31m{}", "x".repeat(80))),
            },
        ];
        let diff = StackDiff {
            stack: "MedplumStaging".into(),
            region: "us-east-1".into(),
            kind: ChangeSetKind::Update,
            changes: vec![service],
            note: None,
            risks: Vec::new(),
        };
        insta::assert_snapshot!(render_stack(&diff, Style::plain()), @r"
        MedplumStaging (us-east-1, update)
          Service
            ~ BackEndFargateService  AWS::ECS::Service
                DesiredCount: 1 -> 2
                Tags
                Note: (unset) -> \u{1b}[31mxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx…
          0 to add, 1 to change, 0 to remove
        ");
    }

    #[test]
    fn a_plan_reads_like_terraform() {
        let diffs = vec![
            StackDiff {
                stack: "MedplumStagingStack".into(),
                region: "eu-west-1".into(),
                kind: ChangeSetKind::Update,
                changes: vec![
                    c(
                        ChangeAction::Modify,
                        "BackEndDatabaseCluster",
                        "AWS::RDS::DBCluster",
                        Some(Replacement::Always),
                        &["EngineVersion"],
                    ),
                    c(
                        ChangeAction::Add,
                        "BackEndWorkerService",
                        "AWS::ECS::Service",
                        None,
                        &[],
                    ),
                    c(
                        ChangeAction::Modify,
                        "BackEndTaskDefinition",
                        "AWS::ECS::TaskDefinition",
                        Some(Replacement::Conditional),
                        &[],
                    ),
                    c(
                        ChangeAction::Remove,
                        "OldParameter",
                        "AWS::SSM::Parameter",
                        None,
                        &[],
                    ),
                    c(
                        ChangeAction::Add,
                        "BackEndVPCFlowLog",
                        "AWS::EC2::FlowLog",
                        None,
                        &[],
                    ),
                ],
                note: None,
                risks: Vec::new(),
            },
            StackDiff {
                stack: "MedplumStagingStack-us-east-1".into(),
                region: "us-east-1".into(),
                kind: ChangeSetKind::Update,
                changes: vec![],
                note: None,
                risks: Vec::new(),
            },
        ];
        insta::assert_snapshot!(render(&diffs, Style::plain()), @r"
        MedplumStagingStack (eu-west-1, update)
          Network
            + BackEndVPCFlowLog       AWS::EC2::FlowLog
          Database
          -/+ BackEndDatabaseCluster  AWS::RDS::DBCluster  (replaced: EngineVersion)
          Service
            + BackEndWorkerService    AWS::ECS::Service
            ~ BackEndTaskDefinition   AWS::ECS::TaskDefinition  (may be replaced)
          Secrets & params
            - OldParameter            AWS::SSM::Parameter
          2 to add, 2 to change (1 replacement, 1 may be replaced), 1 to remove

        MedplumStagingStack-us-east-1 (us-east-1, update)
          no changes

        Plan: 2 to add, 2 to change (1 replacement, 1 may be replaced), 1 to remove.
        ");
    }

    #[test]
    fn data_risks_stand_under_their_stack_and_in_the_plan_line() {
        let d = StackDiff {
            stack: "MedplumStagingStack".into(),
            region: "us-east-1".into(),
            kind: ChangeSetKind::Update,
            changes: vec![
                c(
                    ChangeAction::Remove,
                    "StorageBucket",
                    "AWS::S3::Bucket",
                    None,
                    &[],
                ),
                c(
                    ChangeAction::Modify,
                    "BackEndDatabaseInstance1",
                    "AWS::RDS::DBInstance",
                    Some(Replacement::Always),
                    &[],
                ),
            ],
            note: None,
            risks: vec![
                Risk {
                    logical_id: "StorageBucket".into(),
                    severity: Severity::Blocking,
                    what: "removed: it holds stored files".into(),
                    fix: None,
                },
                Risk {
                    logical_id: "BackEndDatabaseInstance1".into(),
                    severity: Severity::Caution,
                    what: "replaced: it holds a database instance".into(),
                    fix: Some("keep the config's value".into()),
                },
            ],
        };
        insta::assert_snapshot!(render(std::slice::from_ref(&d), Style::plain()), @r"
        MedplumStagingStack (us-east-1, update)
          Database
          -/+ BackEndDatabaseInstance1  AWS::RDS::DBInstance  (replaced)
          Storage
            - StorageBucket             AWS::S3::Bucket
          0 to add, 1 to change (1 replacement), 1 to remove
          Stored data:
          ! StorageBucket removed: it holds stored files
          * BackEndDatabaseInstance1 replaced: it holds a database instance
              keep the config's value

        Plan: 0 to add, 1 to change (1 replacement), 1 to remove.
        1 change puts stored data at risk (marked !): a deploy needs --allow-data-risk.
        ");
        let text = render_stack(&d, Style { color: true });
        assert!(text.contains("\x1b[31m  ! StorageBucket"), "{text:?}");
        assert!(
            text.contains("\x1b[33m  * BackEndDatabaseInstance1"),
            "{text:?}"
        );
    }

    #[test]
    fn no_changes_says_so() {
        let text = render(&[], Style::plain());
        assert!(text.starts_with("No changes."));
    }

    #[test]
    fn replacements_are_highlighted_in_colour() {
        let d = StackDiff {
            stack: "S".into(),
            region: "us-east-1".into(),
            kind: ChangeSetKind::Update,
            changes: vec![c(
                ChangeAction::Modify,
                "Db",
                "AWS::RDS::DBCluster",
                Some(Replacement::Always),
                &[],
            )],
            note: None,
            risks: Vec::new(),
        };
        let text = render_stack(&d, Style { color: true });
        assert!(text.contains("\x1b[31m\x1b[1m-/+"), "{text:?}");
        assert!(text.contains("(replaced)"));
    }
}
