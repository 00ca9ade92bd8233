//! Validators for single answers, shared by the answers file, the TUI (inline, as you type), the
//! line prompts and the synthesizer. Each returns `Err((problem, fix))` in words a user can act
//! on; [`did_you_mean`] suggests the closest known name for a misspelt one.

use super::US_EAST_1;

pub type Check = Result<(), (String, String)>;

fn bad(problem: impl Into<String>, fix: impl Into<String>) -> Check {
    Err((problem.into(), fix.into()))
}

/// AWS commercial regions where Medplum's stack (Aurora, ElastiCache, Fargate, WAF) is available.
pub const REGIONS: &[&str] = &[
    US_EAST_1,
    "us-east-2",
    "us-west-1",
    "us-west-2",
    "af-south-1",
    "ap-east-1",
    "ap-south-1",
    "ap-south-2",
    "ap-southeast-1",
    "ap-southeast-2",
    "ap-southeast-3",
    "ap-southeast-4",
    "ap-southeast-5",
    "ap-southeast-7",
    "ap-northeast-1",
    "ap-northeast-2",
    "ap-northeast-3",
    "ca-central-1",
    "ca-west-1",
    "eu-central-1",
    "eu-central-2",
    "eu-west-1",
    "eu-west-2",
    "eu-west-3",
    "eu-south-1",
    "eu-south-2",
    "eu-north-1",
    "il-central-1",
    "me-south-1",
    "me-central-1",
    "mx-central-1",
    "sa-east-1",
    "us-gov-east-1",
    "us-gov-west-1",
];

/// Valid Fargate task sizes: CPU units and the memory (MiB) each allows.
pub fn fargate_memory_for(cpu: u32) -> Vec<u32> {
    match cpu {
        256 => vec![512, 1024, 2048],
        512 => (1..=4).map(|g| g * 1024).collect(),
        1024 => (2..=8).map(|g| g * 1024).collect(),
        2048 => (4..=16).map(|g| g * 1024).collect(),
        4096 => (8..=30).map(|g| g * 1024).collect(),
        8192 => (16..=60).step_by(4).map(|g| g * 1024).collect(),
        16384 => (32..=120).step_by(8).map(|g| g * 1024).collect(),
        _ => vec![],
    }
}

pub const FARGATE_CPUS: &[u32] = &[256, 512, 1024, 2048, 4096, 8192, 16384];

/// Longest value echoed back in a message; the rest is cut with an ellipsis.
pub const SHOWN_MAX_CHARS: usize = 80;

/// A value from a file or the command line, safe to echo to a terminal: control characters
/// (escape sequences, NUL, newlines) and the characters that reorder, break or hide in a line
/// ([`is_invisible_or_reordering`]) written as `\u{..}` escapes, and cut to
/// [`SHOWN_MAX_CHARS`] with an ellipsis, so hostile input can neither drive the terminal nor
/// flood it.
pub fn shown(s: &str) -> String {
    escape_controls(s, SHOWN_MAX_CHARS)
}

/// [`shown`] with a limit of one's own.
pub fn escape_controls(s: &str, max_chars: usize) -> String {
    let mut out = String::new();
    for (n, c) in s.chars().enumerate() {
        if n == max_chars {
            out.push('…');
            break;
        }
        if c.is_control() || is_invisible_or_reordering(c) {
            out.extend(c.escape_unicode());
        } else {
            out.push(c);
        }
    }
    out
}

/// Characters that are not control characters to Unicode but still make a line read
/// differently from what it holds: the bidirectional embeddings, overrides and isolates
/// (U+202A..U+202E, U+2066..U+2069) reorder it, the line and paragraph separators (U+2028,
/// U+2029) break it, and the zero-width ones (U+200B..U+200F, U+2060..U+2064, U+FEFF) hide in it,
/// so `unknown key 'name\u{200b}'` would read as `unknown key 'name'`.
pub fn is_invisible_or_reordering(c: char) -> bool {
    matches!(
        c,
        '\u{200b}'..='\u{200f}'
            | '\u{2028}'..='\u{202e}'
            | '\u{2060}'..='\u{2064}'
            | '\u{2066}'..='\u{2069}'
            | '\u{feff}'
    )
}

pub const ENV_NAME_FIX: &str =
    "use 1-32 lower-case letters, digits or hyphens, starting with a letter (e.g. prod, staging)";

pub fn env_name(s: &str) -> Check {
    let fix = ENV_NAME_FIX;
    let shown = shown(s);
    if s.is_empty() || s.len() > 32 {
        return bad(format!("'{shown}' must be 1 to 32 characters"), fix);
    }
    if !s.starts_with(|c: char| c.is_ascii_lowercase()) || s.ends_with('-') {
        return bad(
            format!("'{shown}' must start with a lower-case letter and not end with '-'"),
            fix,
        );
    }
    if let Some(c) = s
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-'))
    {
        return bad(format!("'{shown}' contains '{}'", c.escape_debug()), fix);
    }
    Ok(())
}

pub fn stack_name(s: &str) -> Check {
    let fix = "use letters, digits and hyphens, starting with a letter, at most 118 characters";
    if s.is_empty() || s.len() > 118 {
        // 128 is CloudFormation's limit; the us-east-1 companion stack adds "-us-east-1".
        return bad(format!("'{s}' must be 1 to 118 characters"), fix);
    }
    if !s.starts_with(|c: char| c.is_ascii_alphabetic()) {
        return bad(format!("'{s}' must start with a letter"), fix);
    }
    if let Some(c) = s
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '-'))
    {
        return bad(format!("'{s}' contains '{c}'"), fix);
    }
    Ok(())
}

pub fn account_number(s: &str) -> Check {
    if s.len() == 12 && s.chars().all(|c| c.is_ascii_digit()) {
        Ok(())
    } else {
        bad(
            format!("'{s}' is not a 12-digit AWS account ID"),
            "write the 12 digits as a quoted string, e.g. \"123456789012\"",
        )
    }
}

pub fn region(s: &str) -> Check {
    if REGIONS.contains(&s) {
        return Ok(());
    }
    let hint = did_you_mean(s, REGIONS.iter().copied())
        .map(|r| format!("did you mean '{r}'?"))
        .unwrap_or_else(|| "use a region code such as us-east-1 or eu-west-1".into());
    bad(format!("'{s}' is not an AWS region"), hint)
}

pub fn domain(s: &str) -> Check {
    let fix = "write a fully qualified host name in lower case, e.g. example.com";
    if s.ends_with('.') {
        return bad(format!("'{s}' ends with a dot"), "drop the trailing dot");
    }
    if s.chars().any(|c| c.is_ascii_uppercase()) {
        return bad(
            format!("'{s}' has upper-case letters"),
            "write it in lower case",
        );
    }
    if s.starts_with("http://") || s.starts_with("https://") || s.contains('/') {
        return bad(
            format!("'{s}' is a URL, not a host name"),
            "keep only the host, e.g. api.example.com",
        );
    }
    if s.is_empty() || s.len() > 253 {
        return bad(format!("'{s}' must be 1 to 253 characters"), fix);
    }
    let labels: Vec<&str> = s.split('.').collect();
    if labels.len() < 2 {
        return bad(
            format!("'{s}' has no dot; it needs at least a name and a top-level domain"),
            fix,
        );
    }
    for l in &labels {
        if l.is_empty() || l.len() > 63 {
            return bad(format!("'{s}' has an empty or over-long label"), fix);
        }
        if l.starts_with('-') || l.ends_with('-') {
            return bad(format!("label '{l}' in '{s}' starts or ends with '-'"), fix);
        }
        if let Some(c) = l
            .chars()
            .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-'))
        {
            return bad(format!("'{s}' contains '{c}'"), fix);
        }
    }
    if !labels
        .last()
        .unwrap()
        .chars()
        .all(|c| c.is_ascii_lowercase())
    {
        return bad(format!("'{s}' does not end in a top-level domain"), fix);
    }
    Ok(())
}

/// True when `child` is `parent` or a name under it.
pub fn is_within(child: &str, parent: &str) -> bool {
    child == parent || child.ends_with(&format!(".{parent}"))
}

pub fn email(s: &str) -> Check {
    let fix = "write one address such as support@example.com";
    let Some((local, host)) = s.rsplit_once('@') else {
        return bad(format!("'{s}' has no '@'"), fix);
    };
    if local.is_empty() || local.len() > 64 {
        return bad(format!("'{s}' has an empty or over-long local part"), fix);
    }
    if let Some(c) = local
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~.".contains(*c)))
    {
        return bad(format!("'{s}' contains '{c}'"), fix);
    }
    if local.starts_with('.') || local.ends_with('.') || local.contains("..") {
        return bad(format!("'{s}' has a misplaced dot"), fix);
    }
    domain(&host.to_ascii_lowercase())
        .map_err(|(p, _)| (format!("the domain of '{s}': {p}"), fix.to_string()))
}

pub fn bucket_name(s: &str) -> Check {
    let fix = "S3 bucket names: 3-63 lower-case letters, digits, dots and hyphens, starting and ending with a letter or digit";
    if s.len() < 3 || s.len() > 63 {
        return bad(format!("'{s}' must be 3 to 63 characters"), fix);
    }
    if let Some(c) = s
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '.' || *c == '-'))
    {
        return bad(format!("'{s}' contains '{c}'"), fix);
    }
    let edge_ok = |c: Option<char>| c.is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    if !edge_ok(s.chars().next()) || !edge_ok(s.chars().last()) {
        return bad(
            format!("'{s}' must start and end with a letter or digit"),
            fix,
        );
    }
    if s.contains("..") || s.contains(".-") || s.contains("-.") {
        return bad(
            format!("'{s}' has adjacent dots or a dot next to a hyphen"),
            fix,
        );
    }
    if s.split('.').count() == 4 && s.split('.').all(|p| p.parse::<u8>().is_ok()) {
        return bad(format!("'{s}' looks like an IP address"), fix);
    }
    for prefix in ["xn--", "sthree-", "amzn-s3-demo-"] {
        if s.starts_with(prefix) {
            return bad(
                format!("'{s}' starts with the reserved prefix '{prefix}'"),
                fix,
            );
        }
    }
    for suffix in ["-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"] {
        if s.ends_with(suffix) {
            return bad(
                format!("'{s}' ends with the reserved suffix '{suffix}'"),
                fix,
            );
        }
    }
    Ok(())
}

/// Splits `arn:partition:service:region:account:resource`.
pub(super) fn arn_parts(s: &str) -> Option<[&str; 6]> {
    let mut it = s.splitn(6, ':');
    let parts = [
        it.next()?,
        it.next()?,
        it.next()?,
        it.next()?,
        it.next()?,
        it.next()?,
    ];
    (parts[0] == "arn" && matches!(parts[1], "aws" | "aws-cn" | "aws-us-gov")).then_some(parts)
}

/// An ACM certificate ARN; `region` is where it must live (CloudFront needs us-east-1).
pub fn acm_arn(s: &str, region: &str, why: &str) -> Check {
    let fix = format!(
        "use the ARN of an ACM certificate in {region} ({why}), e.g. arn:aws:acm:{region}:123456789012:certificate/<id>"
    );
    let Some(p) = arn_parts(s) else {
        return bad(format!("'{s}' is not an ARN"), fix);
    };
    if p[2] != "acm" || !p[5].starts_with("certificate/") || p[5].len() <= "certificate/".len() {
        return bad(format!("'{s}' is not an ACM certificate ARN"), fix);
    }
    account_number(p[4]).map_err(|(pr, _)| (format!("'{s}': account {pr}"), fix.clone()))?;
    if p[3] != region {
        return bad(
            format!(
                "the certificate is in {}, but it must be in {region} ({why})",
                p[3]
            ),
            fix,
        );
    }
    Ok(())
}

/// An ARN of `service` with a resource starting with `resource_prefix`.
pub fn service_arn(s: &str, service: &str, resource_prefix: &str, example: &str) -> Check {
    let fix = format!("use an ARN like {example}");
    match arn_parts(s) {
        Some(p) if p[2] == service && p[5].starts_with(resource_prefix) => Ok(()),
        _ => bad(format!("'{s}' is not a {service} ARN"), fix),
    }
}

pub fn fargate(cpu: u32, memory: u32) -> Check {
    let allowed = fargate_memory_for(cpu);
    if allowed.is_empty() {
        return bad(
            format!("serverCpu {cpu} is not a Fargate size"),
            format!(
                "use one of {}",
                FARGATE_CPUS
                    .iter()
                    .map(u32::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        );
    }
    if !allowed.contains(&memory) {
        let list = if allowed.len() > 6 {
            format!(
                "{} to {} in steps of {}",
                allowed[0],
                allowed[allowed.len() - 1],
                allowed[1] - allowed[0]
            )
        } else {
            allowed
                .iter()
                .map(u32::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        };
        return bad(
            format!("serverMemory {memory} does not go with serverCpu {cpu}"),
            format!("with {cpu} CPU units use {list} MiB"),
        );
    }
    Ok(())
}

pub fn https_url(s: &str) -> Check {
    let Some(rest) = s.strip_prefix("https://") else {
        return bad(
            format!("'{s}' is not an https:// URL"),
            "write it as https://host/…",
        );
    };
    let host = rest.split(['/', ':']).next().unwrap_or("");
    domain(host).map_err(|(p, f)| (format!("'{s}': {p}"), f))
}

/// A container image reference: `[registry/]repository[:tag][@digest]`.
pub fn image(s: &str) -> Check {
    let fix = "write an image reference such as medplum/medplum-server:5.0.10";
    if s.is_empty() || s.chars().any(|c| c.is_whitespace()) {
        return bad(format!("'{s}' is not an image reference"), fix);
    }
    let (name, _digest) = s.split_once('@').unwrap_or((s, ""));
    let last = name.rsplit('/').next().unwrap_or(name);
    let repo = last.split(':').next().unwrap_or(last);
    if repo.is_empty() || repo.chars().any(|c| c.is_ascii_uppercase()) {
        return bad(
            format!("'{s}': the repository name must be lower case"),
            fix,
        );
    }
    Ok(())
}

pub fn aws_id(s: &str, prefix: &str) -> Check {
    let ok = s
        .strip_prefix(prefix)
        .and_then(|r| r.strip_prefix('-'))
        .is_some_and(|hex| {
            (8..=17).contains(&hex.len()) && hex.chars().all(|c| c.is_ascii_hexdigit())
        });
    if ok {
        Ok(())
    } else {
        bad(
            format!("'{s}' is not a {prefix}- id"),
            format!("use an id like {prefix}-0123456789abcdef0"),
        )
    }
}

/// A FHIR resource id (`[A-Za-z0-9\-.]{1,64}`): `clientId` names the ClientApplication the web
/// app signs in with.
pub fn fhir_id(s: &str) -> Check {
    if (1..=64).contains(&s.len())
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
    {
        Ok(())
    } else {
        bad(
            format!("'{}' is not a FHIR id", shown(s)),
            "use the id of the ClientApplication (1 to 64 letters, digits, '-' or '.'), as the \
             Medplum app's Project Admin page shows it",
        )
    }
}

/// A value the app publisher writes into the app's JavaScript as it is (`googleClientId`,
/// `recaptchaSiteKey`). Only letters, digits, `.`, `-` and `_`: Google's ids and keys have no
/// other characters, and a quote or backslash would end the string literal it lands in.
pub fn app_token(s: &str, example: &str) -> Check {
    if (1..=256).contains(&s.len())
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
    {
        Ok(())
    } else {
        bad(
            format!(
                "'{}' has characters other than letters, digits, '.', '-' and '_'",
                shown(s)
            ),
            format!("paste the value Google's console shows, e.g. {example}"),
        )
    }
}

/// Examples for the fix of a malformed Google value.
pub const GOOGLE_CLIENT_ID_EXAMPLE: &str = "1234567890-abc123.apps.googleusercontent.com";
pub const RECAPTCHA_SITE_KEY_EXAMPLE: &str = "6LdXXXXXAAAAAJ_0123456789abcdefghijklmnopq";

/// One of the web app's settings in a CDK config, as the app publisher will use it: `""` is
/// unset (as the CDK reads it), `registerEnabled` a boolean, the rest strings of
/// [`fhir_id`] or [`app_token`] shape. For config files, which may have been edited by hand.
pub fn app_setting(key: &str, value: &serde_json::Value) -> Check {
    use serde_json::Value;
    match (key, value) {
        (_, Value::Null) => Ok(()),
        ("registerEnabled", Value::Bool(_)) => Ok(()),
        ("registerEnabled", _) => bad("expected a boolean", "set registerEnabled to true or false"),
        (_, Value::String(s)) if s.is_empty() => Ok(()),
        ("clientId", Value::String(s)) => fhir_id(s),
        ("googleClientId", Value::String(s)) => app_token(s, GOOGLE_CLIENT_ID_EXAMPLE),
        ("recaptchaSiteKey", Value::String(s)) => app_token(s, RECAPTCHA_SITE_KEY_EXAMPLE),
        _ => bad("expected a string", format!("set {key} to a string")),
    }
}

/// An RDS instance class without the `db.` prefix, as Medplum's CDK expects.
pub fn rds_instance_type(s: &str) -> Check {
    if let Some(rest) = s.strip_prefix("db.") {
        return bad(
            format!("'{s}' starts with 'db.'"),
            format!("Medplum adds the prefix itself: write '{rest}'"),
        );
    }
    let parts: Vec<_> = s.split('.').collect();
    if parts.len() == 2
        && parts.iter().all(|p| {
            !p.is_empty()
                && p.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        })
    {
        Ok(())
    } else {
        bad(
            format!("'{s}' is not an instance class"),
            "write a class such as t4g.medium or r6g.large",
        )
    }
}

pub fn cache_node_type(s: &str) -> Check {
    let parts: Vec<_> = s.split('.').collect();
    if parts.len() == 3 && parts[0] == "cache" && parts[1..].iter().all(|p| !p.is_empty()) {
        Ok(())
    } else {
        bad(
            format!("'{s}' is not an ElastiCache node type"),
            "write a type such as cache.t4g.medium",
        )
    }
}

pub fn rds_version(s: &str) -> Check {
    let ok = !s.is_empty()
        && s.split('.').count() <= 2
        && s.split('.')
            .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()));
    if ok {
        Ok(())
    } else {
        bad(
            format!("'{s}' is not an Aurora PostgreSQL version"),
            "write a version such as 16.9",
        )
    }
}

/// A CloudFront public key id: upper-case letters and digits (AWS's start with `K`, e.g.
/// K2JCJMDEHXQW5F; the format is not documented, so only the shape is checked).
pub fn cloudfront_key_id(s: &str) -> Check {
    if (10..=32).contains(&s.len())
        && s.chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
    {
        Ok(())
    } else {
        bad(
            format!("'{s}' is not a CloudFront public key id"),
            "use the id CloudFront shows for the key, e.g. K2JCJMDEHXQW5F",
        )
    }
}

/// Levenshtein distance, case-insensitive.
fn distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.to_lowercase().chars().collect();
    let b: Vec<char> = b.to_lowercase().chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            cur[j + 1] = (prev[j] + usize::from(ca != cb))
                .min(prev[j + 1] + 1)
                .min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

/// Longest word a typo suggestion is computed for.
pub const MAX_SUGGESTED_LEN: usize = 64;

/// The closest candidate, if it is close enough to be a plausible typo.
pub fn did_you_mean<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    // The edit distance is quadratic; no key is this long, so nothing this long is a typo of one.
    if word.len() > MAX_SUGGESTED_LEN {
        return None;
    }
    let limit = (word.chars().count() / 3).max(2);
    candidates
        .into_iter()
        .map(|c| (distance(word, c), c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_edit_distance_is_never_computed_for_a_word_longer_than_any_key() {
        // A candidate identical to the word would be suggested (distance 0) if the quadratic
        // distance ran; past the cutoff nothing is suggested, so nothing was computed.
        let long = "a".repeat(MAX_SUGGESTED_LEN + 1);
        assert_eq!(did_you_mean(&long, [long.as_str()]), None);
        let short = "a".repeat(MAX_SUGGESTED_LEN);
        assert_eq!(did_you_mean(&short, [short.as_str()]), Some(short.as_str()));
    }

    #[test]
    fn domains() {
        assert!(domain("example.com").is_ok());
        assert!(domain("api.staging.example.co.uk").is_ok());
        assert!(domain("Example.com").is_err());
        assert!(domain("example.com.").is_err());
        assert!(domain("localhost").is_err());
        assert!(domain("https://example.com").is_err());
        assert!(domain("-a.com").is_err());
        assert!(domain("a_b.com").is_err());
        assert!(is_within("api.example.com", "example.com"));
        assert!(!is_within("api.badexample.com", "example.com"));
    }

    #[test]
    fn buckets() {
        assert!(bucket_name("medplum-staging-storage").is_ok());
        assert!(bucket_name("app.staging.example.com").is_ok());
        assert!(bucket_name("ab").is_err());
        assert!(bucket_name("My_Bucket").is_err());
        assert!(bucket_name("a..b").is_err());
        assert!(bucket_name("192.168.1.1").is_err());
        assert!(bucket_name("xn--abc").is_err());
        assert!(bucket_name("bucket-").is_err());
    }

    #[test]
    fn acm_arns_check_region() {
        let arn =
            "arn:aws:acm:us-east-1:123456789012:certificate/11111111-1111-1111-1111-111111111111";
        assert!(acm_arn(arn, "us-east-1", "CloudFront").is_ok());
        let err = acm_arn(arn, "eu-west-1", "the load balancer").unwrap_err();
        assert!(err.0.contains("must be in eu-west-1"), "{err:?}");
        assert!(acm_arn("arn:aws:s3:::bucket", "us-east-1", "x").is_err());
        assert!(acm_arn("nope", "us-east-1", "x").is_err());
    }

    #[test]
    fn fargate_pairs() {
        assert!(fargate(256, 512).is_ok());
        assert!(fargate(256, 4096).is_err());
        assert!(fargate(1024, 8192).is_ok());
        assert!(fargate(8192, 20480).is_ok());
        assert!(fargate(8192, 18432).is_err());
        assert!(fargate(300, 512).is_err());
        let (_, fix) = fargate(4096, 1024).unwrap_err();
        assert!(fix.contains("8192 to 30720 in steps of 1024"), "{fix}");
    }

    #[test]
    fn misc() {
        assert!(env_name("staging").is_ok());
        assert!(env_name("Prod").is_err());
        assert!(env_name("a b").is_err());
        assert!(account_number("123456789012").is_ok());
        assert!(account_number("12345").is_err());
        assert!(email("support@example.com").is_ok());
        assert!(email("support.example.com").is_err());
        assert!(email("a@b").is_err());
        assert!(region("eu-west-1").is_ok());
        let (_, fix) = region("eu-wset-1").unwrap_err();
        assert!(fix.contains("eu-west-1"), "{fix}");
        assert!(rds_instance_type("t4g.medium").is_ok());
        assert!(
            rds_instance_type("db.t4g.medium")
                .unwrap_err()
                .1
                .contains("t4g.medium")
        );
        assert!(image("medplum/medplum-server:latest").is_ok());
        assert!(image("Medplum/Server").is_err());
        assert!(aws_id("vpc-0123abcd", "vpc").is_ok());
        assert!(aws_id("sg-xyz", "sg").is_err());
        assert!(stack_name("MedplumStaging").is_ok());
        assert!(stack_name("Medplum_Staging").is_err());
        assert!(https_url("https://api.example.com/").is_ok());
        assert!(https_url("http://api.example.com/").is_err());
        assert!(cloudfront_key_id("K2JCJMDEHXQW5F").is_ok());
        assert!(cloudfront_key_id("k2jc").is_err());
    }
}
