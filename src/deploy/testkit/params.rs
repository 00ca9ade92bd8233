//! CloudFormation's parameter validation at CreateChangeSet, for the scripted fake: the
//! template's `Parameters` against the values sent, with the service's own error texts, so a
//! value CloudFormation would refuse (a placeholder against an `AllowedPattern`) fails a unit
//! test the way it fails a real deploy.
//!
//! `AllowedPattern` is matched against the whole value, as CloudFormation does (Java's
//! `matches`). The matcher understands what templates use for IDs and names: literals, `.`,
//! classes (`[A-Z0-9]`, `[^/]`, `\d`, `\w`, `\s`), the quantifiers `* + ? {n} {n,} {n,m}` and the
//! anchors `^ $`. A pattern with groups or alternation panics: a test should not pass because
//! the fake misread a pattern.

use serde_json::Value;

/// Checks `values` against the template's `Parameters`; `Err` holds CloudFormation's message.
pub fn validate(template: &Value, values: &[(String, String)]) -> Result<(), String> {
    let empty = serde_json::Map::new();
    let declared = template
        .get("Parameters")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    let unknown: Vec<&str> = values
        .iter()
        .map(|(k, _)| k.as_str())
        .filter(|k| !declared.contains_key(*k))
        .collect();
    if !unknown.is_empty() {
        return Err(format!(
            "Parameters: [{}] do not exist in the template",
            unknown.join(", ")
        ));
    }
    let missing: Vec<&str> = declared
        .iter()
        .filter(|(k, p)| p.get("Default").is_none() && !values.iter().any(|(n, _)| n == *k))
        .map(|(k, _)| k.as_str())
        .collect();
    if !missing.is_empty() {
        return Err(format!(
            "Parameters: [{}] must have values",
            missing.join(", ")
        ));
    }
    for (name, value) in values {
        check_one(name, &declared[name], value)?;
    }
    Ok(())
}

fn num(v: &Value) -> Option<f64> {
    v.as_f64().or_else(|| v.as_str()?.parse().ok())
}

fn check_one(name: &str, p: &Value, value: &str) -> Result<(), String> {
    if let Some(allowed) = p.get("AllowedValues").and_then(Value::as_array)
        && !allowed.iter().any(|a| a.as_str() == Some(value))
    {
        return Err(format!("Parameter '{name}' must be one of AllowedValues"));
    }
    if let Some(pattern) = p.get("AllowedPattern").and_then(Value::as_str)
        && !full_match(pattern, value)
    {
        return Err(format!("Parameter '{name}' must match pattern {pattern}"));
    }
    let len = value.chars().count() as f64;
    if let Some(min) = p.get("MinLength").and_then(num)
        && len < min
    {
        return Err(format!(
            "Parameter '{name}' must contain at least {min} characters"
        ));
    }
    if let Some(max) = p.get("MaxLength").and_then(num)
        && len > max
    {
        return Err(format!(
            "Parameter '{name}' must contain at most {max} characters"
        ));
    }
    let is_number = p.get("Type").and_then(Value::as_str) == Some("Number");
    if is_number || p.get("MinValue").is_some() || p.get("MaxValue").is_some() {
        let Ok(n) = value.parse::<f64>() else {
            return Err(format!("Parameter '{name}' must be a number"));
        };
        if let Some(min) = p.get("MinValue").and_then(num)
            && n < min
        {
            return Err(format!(
                "Parameter '{name}' must be a number not less than {min}"
            ));
        }
        if let Some(max) = p.get("MaxValue").and_then(num)
            && n > max
        {
            return Err(format!(
                "Parameter '{name}' must be a number not greater than {max}"
            ));
        }
    }
    Ok(())
}

/// One piece of a pattern: what one character must be, and how many times.
#[derive(Debug)]
struct Atom {
    set: Set,
    min: usize,
    max: usize,
}

#[derive(Debug)]
enum Set {
    Any,
    Class { negated: bool, items: Vec<Item> },
}

#[derive(Debug)]
enum Item {
    Char(char),
    Range(char, char),
    Digit,
    Word,
    Space,
}

impl Item {
    fn matches(&self, c: char) -> bool {
        match self {
            Item::Char(x) => *x == c,
            Item::Range(a, b) => (*a..=*b).contains(&c),
            Item::Digit => c.is_ascii_digit(),
            Item::Word => c.is_ascii_alphanumeric() || c == '_',
            Item::Space => c.is_whitespace(),
        }
    }
}

impl Set {
    fn matches(&self, c: char) -> bool {
        match self {
            Set::Any => c != '\n',
            Set::Class { negated, items } => items.iter().any(|i| i.matches(c)) != *negated,
        }
    }
}

fn escape(c: char) -> Item {
    match c {
        'd' => Item::Digit,
        'w' => Item::Word,
        's' => Item::Space,
        other => Item::Char(other),
    }
}

fn parse(pattern: &str) -> Vec<Atom> {
    let mut chars: Vec<char> = pattern.chars().collect();
    // The match is on the whole value anyway: anchors add nothing.
    if chars.first() == Some(&'^') {
        chars.remove(0);
    }
    if chars.last() == Some(&'$') && !chars.ends_with(&['\\', '$']) {
        chars.pop();
    }
    let mut atoms = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let set = match chars[i] {
            '.' => Set::Any,
            '\\' => {
                i += 1;
                Set::Class {
                    negated: false,
                    items: vec![escape(chars[i])],
                }
            }
            '[' => {
                i += 1;
                let negated = chars[i] == '^';
                if negated {
                    i += 1;
                }
                let mut items = Vec::new();
                let mut first = true;
                while chars[i] != ']' || first {
                    first = false;
                    let c = if chars[i] == '\\' {
                        i += 1;
                        let e = escape(chars[i]);
                        if !matches!(e, Item::Char(_)) {
                            items.push(e);
                            i += 1;
                            continue;
                        }
                        chars[i]
                    } else {
                        chars[i]
                    };
                    if chars.get(i + 1) == Some(&'-') && chars.get(i + 2).is_some_and(|c| *c != ']')
                    {
                        items.push(Item::Range(c, chars[i + 2]));
                        i += 3;
                    } else {
                        items.push(Item::Char(c));
                        i += 1;
                    }
                }
                Set::Class { negated, items }
            }
            '(' | ')' | '|' => panic!("the fake's AllowedPattern matcher has no groups: {pattern}"),
            c => Set::Class {
                negated: false,
                items: vec![Item::Char(c)],
            },
        };
        i += 1;
        let (min, max) = match chars.get(i) {
            Some('*') => (0, usize::MAX),
            Some('+') => (1, usize::MAX),
            Some('?') => (0, 1),
            Some('{') => {
                let end = i + chars[i..]
                    .iter()
                    .position(|c| *c == '}')
                    .expect("closing }");
                let spec: String = chars[i + 1..end].iter().collect();
                let bounds = match spec.split_once(',') {
                    None => {
                        let n = spec.parse().expect("{n}");
                        (n, n)
                    }
                    Some((a, "")) => (a.parse().expect("{n,}"), usize::MAX),
                    Some((a, b)) => (a.parse().expect("{n,m}"), b.parse().expect("{n,m}")),
                };
                i = end;
                bounds
            }
            _ => {
                i -= 1;
                (1, 1)
            }
        };
        i += 1;
        atoms.push(Atom { set, min, max });
    }
    atoms
}

fn match_from(atoms: &[Atom], text: &[char]) -> bool {
    let Some((a, rest)) = atoms.split_first() else {
        return text.is_empty();
    };
    // Greedy, backing off one character at a time.
    let most = text
        .iter()
        .take(a.max)
        .take_while(|c| a.set.matches(**c))
        .count();
    (a.min..=most).rev().any(|n| match_from(rest, &text[n..]))
}

/// True when `pattern` matches all of `value`.
pub fn full_match(pattern: &str, value: &str) -> bool {
    let text: Vec<char> = value.chars().collect();
    match_from(&parse(pattern), &text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn patterns_match_the_whole_value() {
        assert!(full_match("^[A-Z0-9]+$", "E1APPOAI"));
        assert!(!full_match("^[A-Z0-9]+$", "pending:Stack:Output"));
        assert!(!full_match("[A-Z]+", "ABc"), "no partial match");
        assert!(full_match(
            "arn:aws:iam::\\d{12}:role/[\\w+=,.@/-]+",
            "arn:aws:iam::123456789012:role/deploy"
        ));
        assert!(!full_match("\\d{12}", "12345"));
        assert!(full_match("a.?b*c", "abbbc"));
        assert!(full_match("[^/]+", "x"));
        assert!(!full_match("[^/]+", "x/y"));
    }

    #[test]
    fn parameters_are_checked_with_cloudformations_texts() {
        let t = json!({"Parameters": {
            "Oai": {"Type": "String", "AllowedPattern": "^[A-Z0-9]+$"},
            "Size": {"Type": "Number", "MinValue": 1, "MaxValue": 3, "Default": "1"},
            "Env": {"Type": "String", "AllowedValues": ["a", "b"], "Default": "a"},
            "Name": {"Type": "String", "MinLength": 2, "MaxLength": 4, "Default": "ab"},
        }});
        let p = |v: &[(&str, &str)]| -> Vec<(String, String)> {
            v.iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        assert_eq!(validate(&t, &p(&[("Oai", "E1")])), Ok(()));
        assert_eq!(
            validate(&t, &p(&[("Oai", "pending:x")])).unwrap_err(),
            "Parameter 'Oai' must match pattern ^[A-Z0-9]+$"
        );
        assert_eq!(
            validate(&t, &p(&[])).unwrap_err(),
            "Parameters: [Oai] must have values"
        );
        assert_eq!(
            validate(&t, &p(&[("Oai", "E1"), ("Nope", "1")])).unwrap_err(),
            "Parameters: [Nope] do not exist in the template"
        );
        assert!(
            validate(&t, &p(&[("Oai", "E1"), ("Size", "4")]))
                .unwrap_err()
                .contains("not greater than 3")
        );
        assert!(
            validate(&t, &p(&[("Oai", "E1"), ("Size", "0")]))
                .unwrap_err()
                .contains("not less than 1")
        );
        assert!(
            validate(&t, &p(&[("Oai", "E1"), ("Env", "c")]))
                .unwrap_err()
                .contains("AllowedValues")
        );
        assert!(
            validate(&t, &p(&[("Oai", "E1"), ("Name", "abcde")]))
                .unwrap_err()
                .contains("at most 4")
        );
        assert!(
            validate(&t, &p(&[("Oai", "E1"), ("Name", "a")]))
                .unwrap_err()
                .contains("at least 2")
        );
    }
}
