//! `docs/permissions.md` against the code: every AWS SDK call in `src/` maps to an IAM action
//! that the install or deploy policy grants, the policies grant nothing the code never needs,
//! and the statements CloudFormation uses on the operator's behalf cover exactly the services of
//! the resource types our synthesized templates hold.
//!
//! The scan reads the source as tokens (comments dropped). A call is `<client>.<operation>()`
//! where `<client>` is a client constructor of `AwsClients` (`aws.s3(region)`, `self.aws.sts()`),
//! a variable bound to one (`let acm = ctx.aws()?.acm(&r);`), or a parameter or field typed
//! `aws_sdk_<service>::Client`. To stay honest it also counts every `.send()` of a file and
//! fails when the two counts differ (a call reached through some other path), and checks that
//! the `(service, Operation)` labels the code passes to `ctx.call` / `AwsError::from_sdk` name
//! calls the scan found.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::harness::root;

/// `AwsClients` constructors and `aws_sdk_<crate>` names, to the IAM service prefix.
const CONSTRUCTORS: &[(&str, &str)] = &[
    ("sts", "sts"),
    ("acm", "acm"),
    ("cloudfront", "cloudfront"),
    ("ssm", "ssm"),
    ("ssm_in", "ssm"),
    ("sesv2", "ses"),
    ("route53", "route53"),
    ("s3", "s3"),
    ("lambda", "lambda"),
    ("ecs", "ecs"),
    ("ec2", "ec2"),
    ("cloudformation", "cloudformation"),
];

/// Methods of an SDK client that are not API operations.
const NOT_OPERATIONS: &[&str] = &["clone", "config"];

/// Actions a policy lists that no SDK call of ours maps to, each with the reason.
const LISTED_WITHOUT_A_CALL: &[(&str, &str, &str)] = &[(
    "deploy",
    "iam:PassRole",
    "CloudFormation checks it when a change set or DeleteStack names a service role \
     (--role-arn); no SDK call is iam:PassRole itself",
)];

/// Service prefixes the on-your-behalf statements need that are no resource type's.
const ON_YOUR_BEHALF_EXTRA: &[(&str, &str)] = &[(
    "cloudwatch",
    "target-tracking scaling (AWS::ApplicationAutoScaling::ScalingPolicy) creates its \
     CloudWatch alarms with the caller's credentials",
)];

/// Statements whose Sid starts with this are used by CloudFormation, not by our code.
const ON_YOUR_BEHALF: &str = "OnYourBehalf";

/// The IAM actions one API call needs. Most are the service prefix and the operation name;
/// these differ (S3's older IAM names) or need more (tags given at creation).
fn iam_actions(prefix: &str, op: &str) -> Vec<String> {
    let same = || vec![format!("{prefix}:{op}")];
    match (prefix, op) {
        // STS answers GetCallerIdentity for any credentials; it cannot be denied.
        ("sts", "GetCallerIdentity") => vec![],
        ("s3", "HeadBucket" | "ListObjectsV2" | "ListObjects") => vec!["s3:ListBucket".into()],
        ("s3", "ListObjectVersions") => vec!["s3:ListBucketVersions".into()],
        ("s3", "HeadObject") => vec!["s3:GetObject".into()],
        ("s3", "PutPublicAccessBlock") => vec!["s3:PutBucketPublicAccessBlock".into()],
        ("s3", "GetPublicAccessBlock") => vec!["s3:GetBucketPublicAccessBlock".into()],
        ("s3", "PutBucketEncryption") => vec!["s3:PutEncryptionConfiguration".into()],
        ("s3", "GetBucketEncryption") => vec!["s3:GetEncryptionConfiguration".into()],
        ("s3", "PutBucketLifecycleConfiguration") => vec!["s3:PutLifecycleConfiguration".into()],
        ("s3", "GetBucketLifecycleConfiguration") => vec!["s3:GetLifecycleConfiguration".into()],
        // The request tags the certificate / identity with its environment.
        ("acm", "RequestCertificate") => vec![
            "acm:RequestCertificate".into(),
            "acm:AddTagsToCertificate".into(),
        ],
        ("ses", "CreateEmailIdentity") => {
            vec!["ses:CreateEmailIdentity".into(), "ses:TagResource".into()]
        }
        _ => same(),
    }
}

// ---------------------------------------------------------------------------------------------
// Tokens

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Tok {
    Ident(String),
    Str(String),
    Punct(char),
}

/// Rust source as identifiers, string literals and punctuation; comments, numbers, char
/// literals and lifetimes dropped. Each token carries its line.
pub(crate) fn tokens(src: &str) -> Vec<(Tok, usize)> {
    let c: Vec<char> = src.chars().collect();
    let mut out = Vec::new();
    let (mut i, mut line) = (0, 1);
    while i < c.len() {
        let ch = c[i];
        if ch == '\n' {
            line += 1;
            i += 1;
        } else if ch.is_whitespace() {
            i += 1;
        } else if ch == '/' && c.get(i + 1) == Some(&'/') {
            while i < c.len() && c[i] != '\n' {
                i += 1;
            }
        } else if ch == '/' && c.get(i + 1) == Some(&'*') {
            let mut depth = 0;
            while i < c.len() {
                if c[i] == '/' && c.get(i + 1) == Some(&'*') {
                    depth += 1;
                    i += 2;
                } else if c[i] == '*' && c.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    line += usize::from(c[i] == '\n');
                    i += 1;
                }
            }
        } else if ch == 'r' && matches!(c.get(i + 1), Some(&'#') | Some(&'"')) && {
            let mut j = i + 1;
            while c.get(j) == Some(&'#') {
                j += 1;
            }
            c.get(j) == Some(&'"')
        } {
            // Raw string r#"..."#.
            let mut j = i + 1;
            let mut hashes = 0;
            while c[j] == '#' {
                hashes += 1;
                j += 1;
            }
            j += 1;
            let start = j;
            loop {
                if c[j] == '"' && (0..hashes).all(|k| c.get(j + 1 + k) == Some(&'#')) {
                    break;
                }
                line += usize::from(c[j] == '\n');
                j += 1;
            }
            out.push((Tok::Str(c[start..j].iter().collect()), line));
            i = j + 1 + hashes;
        } else if ch == '"' {
            let mut j = i + 1;
            let mut s = String::new();
            while c[j] != '"' {
                if c[j] == '\\' {
                    j += 1;
                }
                line += usize::from(c[j] == '\n');
                s.push(c[j]);
                j += 1;
            }
            out.push((Tok::Str(s), line));
            i = j + 1;
        } else if ch == '\'' {
            // A char literal ('a', '\n', '\'') or a lifetime ('a): skip either.
            if c.get(i + 1) == Some(&'\\') {
                i += 2;
                while c[i] != '\'' {
                    i += 1;
                }
                i += 1;
            } else if c.get(i + 2) == Some(&'\'') {
                i += 3;
            } else {
                i += 1;
                while i < c.len() && (c[i].is_alphanumeric() || c[i] == '_') {
                    i += 1;
                }
            }
        } else if ch.is_alphabetic() || ch == '_' {
            let start = i;
            while i < c.len() && (c[i].is_alphanumeric() || c[i] == '_') {
                i += 1;
            }
            out.push((Tok::Ident(c[start..i].iter().collect()), line));
        } else if ch.is_ascii_digit() {
            while i < c.len() && (c[i].is_alphanumeric() || c[i] == '_' || c[i] == '.') {
                // Stop before a method call on a number (1.max(2)).
                if c[i] == '.' && !c.get(i + 1).is_some_and(|d| d.is_ascii_digit()) {
                    break;
                }
                i += 1;
            }
        } else {
            out.push((Tok::Punct(ch), line));
            i += 1;
        }
    }
    out
}

pub(crate) fn ident(t: &[(Tok, usize)], i: usize) -> Option<&str> {
    match t.get(i) {
        Some((Tok::Ident(s), _)) => Some(s),
        _ => None,
    }
}

pub(crate) fn punct(t: &[(Tok, usize)], i: usize, p: char) -> bool {
    matches!(t.get(i), Some((Tok::Punct(c), _)) if *c == p)
}

fn constructor(name: &str) -> Option<&'static str> {
    CONSTRUCTORS
        .iter()
        .find(|(c, _)| *c == name)
        .map(|(_, p)| *p)
}

/// The index of the `(` matching the `)` at `close`.
fn open_of(t: &[(Tok, usize)], close: usize) -> Option<usize> {
    let mut depth = 0;
    for i in (0..=close).rev() {
        if punct(t, i, ')') {
            depth += 1;
        } else if punct(t, i, '(') {
            depth -= 1;
            if depth == 0 {
                return Some(i);
            }
        }
    }
    None
}

/// `aws_sdk_<crate> :: Client` at `i`: the service prefix.
fn sdk_client_path(t: &[(Tok, usize)], i: usize) -> Option<&'static str> {
    let krate = ident(t, i)?.strip_prefix("aws_sdk_")?;
    if punct(t, i + 1, ':') && punct(t, i + 2, ':') && ident(t, i + 3) == Some("Client") {
        constructor(krate)
    } else {
        None
    }
}

/// If the tokens `t[i..]` start with `.<ctor>(...)` followed by `.`, the prefix and the index
/// of that following `.`.
fn ctor_call_at(t: &[(Tok, usize)], i: usize) -> Option<(&'static str, usize)> {
    if !punct(t, i, '.') {
        return None;
    }
    let prefix = constructor(ident(t, i + 1)?)?;
    if !punct(t, i + 2, '(') {
        return None;
    }
    let mut depth = 0;
    let mut j = i + 2;
    loop {
        if punct(t, j, '(') {
            depth += 1;
        } else if punct(t, j, ')') {
            depth -= 1;
            if depth == 0 {
                break;
            }
        }
        j += 1;
        if j >= t.len() {
            return None;
        }
    }
    let mut next = j + 1;
    if punct(t, next, '?') {
        next += 1;
    }
    Some((prefix, next))
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Call {
    prefix: String,
    /// PascalCase, as the API (and usually IAM) names it.
    operation: String,
    line: usize,
}

#[derive(Debug, Default)]
struct FileScan {
    calls: Vec<Call>,
    sends: usize,
    /// `(service, Operation)` string labels given to `call`, `announced_call`, `from_sdk`.
    labels: Vec<(String, String, usize)>,
    /// The file sets a role ARN on a request (`.role_arn(` / `.set_role_arn(`).
    passes_role: bool,
}

fn pascal(snake: &str) -> String {
    snake
        .split('_')
        .map(|w| {
            let mut c = w.chars();
            c.next()
                .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                .unwrap_or_default()
        })
        .collect()
}

fn scan(src: &str) -> FileScan {
    let t = tokens(src);
    let mut out = FileScan::default();
    // Client variables: `let x = ....<ctor>(..)[?];`, `x: [&][mut] aws_sdk_<s>::Client`,
    // `let x = aws_sdk_<s>::Client::new(..)`.
    let mut bound: BTreeMap<String, &'static str> = BTreeMap::new();
    for i in 0..t.len() {
        if let Some(name) = ident(&t, i)
            && punct(&t, i + 1, ':')
            && !punct(&t, i + 2, ':')
        {
            let mut j = i + 2;
            while punct(&t, j, '&') || ident(&t, j) == Some("mut") {
                j += 1;
            }
            if let Some(p) = sdk_client_path(&t, j) {
                bound.insert(name.to_string(), p);
            }
        }
        if ident(&t, i) == Some("let") {
            let mut j = i + 1;
            if ident(&t, j) == Some("mut") {
                j += 1;
            }
            let Some(name) = ident(&t, j) else { continue };
            let Some(eq) = (j..t.len()).find(|&k| punct(&t, k, '=') || punct(&t, k, ';')) else {
                continue;
            };
            if !punct(&t, eq, '=') {
                continue;
            }
            let mut depth = 0i32;
            let mut end = eq + 1;
            while end < t.len() {
                match &t[end].0 {
                    Tok::Punct('(' | '[' | '{') => depth += 1,
                    Tok::Punct(')' | ']' | '}') => depth -= 1,
                    Tok::Punct(';') if depth == 0 => break,
                    _ => {}
                }
                if depth < 0 {
                    break;
                }
                end += 1;
            }
            // `... .ctor(args) [?] ;`
            let mut last = end - 1;
            if punct(&t, last, '?') {
                last -= 1;
            }
            if punct(&t, last, ')')
                && let Some(open) = open_of(&t, last)
                && open >= 2
                && punct(&t, open - 2, '.')
                && let Some(p) = ident(&t, open - 1).and_then(constructor)
            {
                bound.insert(name.to_string(), p);
            }
            if let Some(p) = (eq + 1..end).find_map(|k| sdk_client_path(&t, k)) {
                bound.insert(name.to_string(), p);
            }
        }
    }
    for i in 0..t.len() {
        // `.send()`
        if punct(&t, i, '.')
            && ident(&t, i + 1) == Some("send")
            && punct(&t, i + 2, '(')
            && punct(&t, i + 3, ')')
        {
            out.sends += 1;
        }
        if punct(&t, i, '.') && matches!(ident(&t, i + 1), Some("role_arn" | "set_role_arn")) {
            out.passes_role = true;
        }
        // An operation: `<client variable> . op ( )` (also `self.<field>`), or
        // `.<constructor>(..) . op ( )`.
        let (prefix, dot) = if let Some(name) = ident(&t, i)
            && let Some(&p) = bound.get(name)
            && (!punct(&t, i.wrapping_sub(1), '.') || ident(&t, i.wrapping_sub(2)) == Some("self"))
        {
            (p, i + 1)
        } else if let Some(found) = ctor_call_at(&t, i) {
            found
        } else {
            continue;
        };
        if !punct(&t, dot, '.') || !punct(&t, dot + 2, '(') || !punct(&t, dot + 3, ')') {
            continue;
        }
        let Some(op) = ident(&t, dot + 1) else {
            continue;
        };
        if NOT_OPERATIONS.contains(&op) || constructor(op).is_some() {
            continue;
        }
        out.calls.push(Call {
            prefix: prefix.to_string(),
            operation: pascal(op),
            line: t[dot + 1].1,
        });
    }
    // `const NAME: &str = "value";`, for labels such as `from_sdk(SERVICE, "Op", …)`.
    let mut consts = BTreeMap::new();
    for i in 0..t.len() {
        if ident(&t, i) == Some("const")
            && let Some(name) = ident(&t, i + 1)
            && punct(&t, i + 2, ':')
            && punct(&t, i + 3, '&')
            && ident(&t, i + 4) == Some("str")
            && punct(&t, i + 5, '=')
            && let Some((Tok::Str(v), _)) = t.get(i + 6)
        {
            consts.insert(name.to_string(), v.clone());
        }
    }
    // Labels: `call(step, "svc", "Op", …)`, `announced_call(events, step, "svc", "Op", …)`,
    // `from_sdk("svc", "Op", …)`.
    for i in 0..t.len() {
        let skip = match ident(&t, i) {
            Some("call") => 1,
            Some("announced_call") => 2,
            Some("from_sdk") => 0,
            _ => continue,
        };
        if !punct(&t, i + 1, '(') {
            continue;
        }
        // The first token of each top-level argument.
        let mut args = Vec::new();
        let mut depth = 0;
        let mut start = false;
        for (k, (tok, _)) in t.iter().enumerate().skip(i + 1) {
            if depth == 1 && start && !matches!(tok, Tok::Punct(')')) {
                args.push(k);
                start = false;
            }
            match tok {
                Tok::Punct('(' | '[' | '{') => {
                    depth += 1;
                    if depth == 1 {
                        start = true;
                    }
                }
                Tok::Punct(')' | ']' | '}') => {
                    depth -= 1;
                    if depth == 0 {
                        break;
                    }
                }
                Tok::Punct(',') if depth == 1 => start = true,
                _ => {}
            }
        }
        let s = |n: usize| match args.get(n).map(|&k| &t[k].0) {
            Some(Tok::Str(v)) => Some(v.clone()),
            Some(Tok::Ident(c)) => consts.get(c).cloned(),
            _ => None,
        };
        if let (Some(svc), Some(op)) = (s(skip), s(skip + 1)) {
            out.labels.push((svc, op, t[i].1));
        }
    }
    out
}

pub(crate) fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// Which policy a source file's calls belong to.
fn policy_of(rel: &str) -> Option<&'static str> {
    if rel.starts_with("src/steps/")
        || rel.starts_with("src/ui/")
        || rel.starts_with("src/guided/")
        || rel == "src/commands/init.rs"
    {
        Some("install")
    } else if rel == "src/deploy/destroy.rs"
        || rel == "src/deploy/remains.rs"
        || rel == "src/commands/destroy.rs"
    {
        Some("destroy")
    } else if rel.starts_with("src/status/") || rel == "src/commands/status.rs" {
        Some("status")
    } else if rel.starts_with("src/rotate/") || rel == "src/commands/rotate.rs" {
        Some("rotate")
    } else if rel.starts_with("src/deploy/")
        // The web app: `medplum-init app`, and the deploy's last stage.
        || rel.starts_with("src/app/")
        || rel == "src/commands/app.rs"
        || rel == "src/commands/deploy.rs"
        || rel == "src/commands/synth.rs"
    {
        Some("deploy")
    } else {
        None
    }
}

/// Every SDK call of `src/`, by policy: action to the places that need it.
#[derive(Debug, Default)]
struct CodeCalls {
    needed: BTreeMap<&'static str, BTreeMap<String, Vec<String>>>,
    passes_role: BTreeSet<&'static str>,
    problems: Vec<String>,
    count: usize,
}

fn code_calls() -> CodeCalls {
    let mut files = Vec::new();
    rust_files(&root().join("src"), &mut files);
    files.sort();
    let mut out = CodeCalls::default();
    for path in files {
        let rel = path
            .strip_prefix(root())
            .unwrap()
            .to_string_lossy()
            .replace('\\', "/");
        let s = scan(&std::fs::read_to_string(&path).unwrap());
        if s.calls.len() != s.sends {
            out.problems.push(format!(
                "{rel}: {} `.send()` but {} calls found on SDK clients ({:?}); the scan cannot \
                 tell which service the others call: bind the client with `let x = aws.<service>(..)` \
                 or type it `aws_sdk_<service>::Client`",
                s.sends,
                s.calls.len(),
                s.calls.iter().map(|c| &c.operation).collect::<Vec<_>>()
            ));
        }
        for (svc, op, line) in &s.labels {
            if !s
                .calls
                .iter()
                .any(|c| &c.prefix == svc && &c.operation == op)
            {
                out.problems.push(format!(
                    "{rel}:{line}: labelled {svc}:{op}, but no {svc} client calls {op} in this file"
                ));
            }
        }
        if s.calls.is_empty() && !s.passes_role {
            continue;
        }
        let Some(policy) = policy_of(&rel) else {
            out.problems.push(format!(
                "{rel} makes AWS calls ({:?}) but belongs to neither policy; add it to policy_of",
                s.calls
            ));
            continue;
        };
        if s.passes_role {
            out.passes_role.insert(policy);
        }
        for c in &s.calls {
            out.count += 1;
            for a in iam_actions(&c.prefix, &c.operation) {
                out.needed
                    .entry(policy)
                    .or_default()
                    .entry(a)
                    .or_default()
                    .push(format!("{rel}:{} ({}:{})", c.line, c.prefix, c.operation));
            }
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// The document

#[derive(Debug, Default)]
struct Policy {
    /// Action (as written) to the Sid of its statement.
    own: BTreeMap<String, String>,
    on_your_behalf: BTreeMap<String, String>,
}

fn policies(doc: &str) -> BTreeMap<String, Policy> {
    let mut out = BTreeMap::new();
    let marker = "<!-- policy: ";
    let mut rest = doc;
    while let Some(at) = rest.find(marker) {
        let after = &rest[at + marker.len()..];
        let name = after[..after.find(" -->").expect("marker closed")].to_string();
        let start = after
            .find("```json\n")
            .expect("a json block after the marker")
            + 8;
        let end = start + after[start..].find("\n```").expect("json block closed");
        let v: Value = serde_json::from_str(&after[start..end])
            .unwrap_or_else(|e| panic!("policy {name} is not valid JSON: {e}"));
        assert_eq!(v["Version"], "2012-10-17", "policy {name}");
        let mut p = Policy::default();
        for st in v["Statement"].as_array().expect("Statement array") {
            let sid = st["Sid"]
                .as_str()
                .expect("every statement has a Sid")
                .to_string();
            assert_eq!(st["Effect"], "Allow", "{name}/{sid}");
            let actions: Vec<String> = match &st["Action"] {
                Value::String(a) => vec![a.clone()],
                Value::Array(a) => a.iter().map(|x| x.as_str().unwrap().to_string()).collect(),
                other => panic!("{name}/{sid}: Action {other}"),
            };
            assert!(st.get("Resource").is_some(), "{name}/{sid}: no Resource");
            for a in actions {
                let target = if sid.starts_with(ON_YOUR_BEHALF) {
                    &mut p.on_your_behalf
                } else {
                    &mut p.own
                };
                assert!(
                    target.insert(a.clone(), sid.clone()).is_none(),
                    "{name}: {a} listed twice"
                );
            }
        }
        out.insert(name, p);
        rest = &after[end..];
    }
    out
}

fn doc_text() -> String {
    std::fs::read_to_string(root().join("docs/permissions.md")).unwrap()
}

/// The service prefixes of the resource types in the synth snapshots.
fn template_services() -> BTreeMap<String, BTreeSet<String>> {
    let dir = root().join("tests/it/snapshots");
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut seen = 0;
    for e in std::fs::read_dir(&dir).unwrap() {
        let p = e.unwrap().path();
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        if !(name.starts_with("it__synth_snapshots__") && name.ends_with(".snap")) {
            continue;
        }
        seen += 1;
        let text = std::fs::read_to_string(&p).unwrap();
        let json = &text[text.find("\n---\n").expect("insta header") + 5..];
        let v: Value = serde_json::from_str(json).unwrap();
        for r in v["Resources"].as_object().expect("Resources").values() {
            let kind = r["Type"].as_str().unwrap();
            let service = kind.split("::").nth(1).unwrap();
            let prefix = match service {
                "ElasticLoadBalancingV2" => "elasticloadbalancing".to_string(),
                "ApplicationAutoScaling" => "application-autoscaling".to_string(),
                s => s.to_ascii_lowercase(),
            };
            out.entry(prefix).or_default().insert(kind.to_string());
        }
    }
    assert!(seen >= 2, "no synth snapshots in {}", dir.display());
    out
}

fn prefix(action: &str) -> &str {
    action.split(':').next().unwrap()
}

/// What is wrong between the code's calls and the document's policies.
fn mismatches(code: &CodeCalls, doc: &BTreeMap<String, Policy>) -> Vec<String> {
    let mut problems = code.problems.clone();
    let lower = |s: &str| s.to_ascii_lowercase();
    for name in ["install", "deploy", "destroy", "status", "rotate"] {
        let Some(p) = doc.get(name) else {
            problems.push(format!(
                "docs/permissions.md has no `<!-- policy: {name} -->` block"
            ));
            continue;
        };
        let own: BTreeSet<String> = p.own.keys().map(|a| a.to_ascii_lowercase()).collect();
        let empty = BTreeMap::new();
        let needed = code.needed.get(name).unwrap_or(&empty);
        for (action, places) in needed {
            if !own.contains(&lower(action)) {
                problems.push(format!(
                    "{name} policy lacks {action}, needed by {}",
                    places.join(", ")
                ));
            }
        }
        let mut made: BTreeSet<String> = needed.keys().map(|a| a.to_ascii_lowercase()).collect();
        if code.passes_role.contains(name) {
            if !own.contains("iam:passrole") {
                problems.push(format!(
                    "{name} policy lacks iam:PassRole, needed because the code passes a role ARN"
                ));
            }
            made.insert("iam:passrole".into());
        }
        for (action, sid) in &p.own {
            if action.contains('*') {
                problems.push(format!(
                    "{name}/{sid}: {action} is a wildcard; list the actions the code makes"
                ));
            }
            let excused = LISTED_WITHOUT_A_CALL
                .iter()
                .any(|(pol, a, _)| *pol == name && lower(a) == lower(action));
            if !made.contains(&lower(action)) && !excused {
                problems.push(format!(
                    "{name}/{sid}: {action} is listed but the code never needs it; remove it, \
                     or mark the statement {ON_YOUR_BEHALF}… if CloudFormation needs it"
                ));
            }
        }
    }
    // The on-your-behalf statements cover the services of the templates' resource types, and
    // only those (plus the few justified extras).
    let types = template_services();
    let behalf: BTreeSet<String> = doc
        .values()
        .flat_map(|p| p.on_your_behalf.keys().map(|a| prefix(a).to_string()))
        .collect();
    for (svc, kinds) in &types {
        if !behalf.contains(svc) {
            problems.push(format!(
                "no {ON_YOUR_BEHALF}… statement grants {svc}:…, which CloudFormation needs for {}",
                kinds.iter().cloned().collect::<Vec<_>>().join(", ")
            ));
        }
    }
    for svc in &behalf {
        if !types.contains_key(svc) && !ON_YOUR_BEHALF_EXTRA.iter().any(|(s, _)| s == svc) {
            problems.push(format!(
                "{ON_YOUR_BEHALF}… statements grant {svc}:…, but no synthesized resource type \
                 is of that service"
            ));
        }
    }
    problems
}

#[test]
fn the_policies_grant_what_the_code_calls_and_nothing_more() {
    let code = code_calls();
    // The scan found the calls of every step and of the deploy engine, not a handful.
    assert!(code.count >= 40, "only {} SDK calls found", code.count);
    for (policy, action) in [
        ("install", "acm:RequestCertificate"),
        ("install", "ssm:PutParameter"),
        ("install", "s3:PutBucketPolicy"),
        ("deploy", "cloudformation:ExecuteChangeSet"),
        ("deploy", "s3:PutObject"),
    ] {
        assert!(
            code.needed[policy].contains_key(action),
            "the scan missed {action}: {:?}",
            code.needed[policy].keys()
        );
    }
    let problems = mismatches(&code, &policies(&doc_text()));
    assert!(
        problems.is_empty(),
        "docs/permissions.md and the code disagree:\n  {}",
        problems.join("\n  ")
    );
}

#[test]
fn a_missing_or_an_extra_action_is_reported() {
    let code = code_calls();
    let text = doc_text();
    // One action of the code taken out of the document, one the code never makes put in.
    let without = text.replacen(", \"ssm:PutParameter\"]", "]", 1);
    assert_ne!(
        without, text,
        "the install policy's Parameters statement changed; update this"
    );
    let problems = mismatches(&code, &policies(&without));
    assert!(
        problems
            .iter()
            .any(|p| p.contains("install policy lacks ssm:PutParameter")),
        "{problems:?}"
    );
    let extra = text.replacen(
        "\"acm:ListCertificates\",",
        "\"acm:DeleteCertificate\", \"acm:ListCertificates\",",
        1,
    );
    assert_ne!(
        extra, text,
        "the install policy's CertificatesList statement changed; update this"
    );
    let problems = mismatches(&code, &policies(&extra));
    assert!(
        problems
            .iter()
            .any(|p| p.contains("acm:DeleteCertificate is listed but the code never needs it")),
        "{problems:?}"
    );
    // A resource type of a service no on-your-behalf statement grants.
    let behalf = text.replacen("\"guardduty:*\"", "\"cloudwatch:GetMetricData\"", 1);
    assert_ne!(behalf, text);
    let problems = mismatches(&code, &policies(&behalf));
    assert!(
        problems.iter().any(|p| p.contains("grants guardduty:…")),
        "{problems:?}"
    );
}

#[test]
fn the_scanner_finds_calls_through_every_kind_of_binding() {
    let src = r#"
        // acm.describe_certificate() in a comment is not a call
        async fn a(aws: &AwsClients, acm: &aws_sdk_acm::Client) {
            let s3 = aws.s3(&region);
            let r53 = ctx.aws().map_err(|_| offline())?.route53();
            let mut req = s3.create_bucket().bucket("b");
            ctx.call(ID, "s3", "CreateBucket", r, "b", req.send()).await;
            acm.describe_certificate().certificate_arn(a).send().await;
            r53.list_hosted_zones().send().await;
            self.aws.sts().get_caller_identity().send().await;
            self.client.delete_stack().set_role_arn(x).send().await;
            let other = acm.clone();
            AwsError::from_sdk("route53", "ListHostedZones", &e);
            let text = "s3.put_object().send()";
        }
        struct C { client: aws_sdk_cloudformation::Client }
    "#;
    let s = scan(src);
    let found: Vec<String> = s
        .calls
        .iter()
        .map(|c| format!("{}:{}", c.prefix, c.operation))
        .collect();
    assert_eq!(
        found,
        [
            "s3:CreateBucket",
            "acm:DescribeCertificate",
            "route53:ListHostedZones",
            "sts:GetCallerIdentity",
            "cloudformation:DeleteStack"
        ]
    );
    assert_eq!(s.sends, 5);
    assert!(s.passes_role);
    assert_eq!(
        s.labels
            .iter()
            .map(|(a, b, _)| format!("{a}:{b}"))
            .collect::<Vec<_>>(),
        ["s3:CreateBucket", "route53:ListHostedZones"]
    );
    assert_eq!(pascal("list_objects_v2"), "ListObjectsV2");
    assert_eq!(iam_actions("s3", "ListObjectsV2"), ["s3:ListBucket"]);
    assert!(iam_actions("sts", "GetCallerIdentity").is_empty());
}
