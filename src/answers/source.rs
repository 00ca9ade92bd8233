//! The answers file as a tree of values that remember their line, so every error can point at it.

use serde_json::Value;
use toml::de::{DeTable, DeValue};

use super::AnswerError;

#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    /// 1-based line of the value.
    pub line: usize,
    pub value: Val,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Val {
    Str(String),
    Int(i64),
    Float(f64),
    Bool(bool),
    Datetime(String),
    Array(Vec<Node>),
    Table(Table),
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Table {
    pub entries: Vec<Entry>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub key: String,
    /// 1-based line of the key.
    pub line: usize,
    pub node: Node,
}

impl Table {
    pub fn get(&self, key: &str) -> Option<&Entry> {
        self.entries.iter().find(|e| e.key == key)
    }
}

impl Node {
    pub fn type_name(&self) -> &'static str {
        match self.value {
            Val::Str(_) => "a string",
            Val::Int(_) => "an integer",
            Val::Float(_) => "a float",
            Val::Bool(_) => "a boolean",
            Val::Datetime(_) => "a date-time",
            Val::Array(_) => "an array",
            Val::Table(_) => "a table",
        }
    }

    pub fn to_json(&self) -> Value {
        match &self.value {
            Val::Str(s) | Val::Datetime(s) => Value::String(s.clone()),
            Val::Int(i) => Value::from(*i),
            Val::Float(f) => serde_json::Number::from_f64(*f)
                .map(Value::Number)
                .unwrap_or(Value::Null),
            Val::Bool(b) => Value::Bool(*b),
            Val::Array(a) => Value::Array(a.iter().map(Node::to_json).collect()),
            Val::Table(t) => Value::Object(
                t.entries
                    .iter()
                    .map(|e| (e.key.clone(), e.node.to_json()))
                    .collect(),
            ),
        }
    }
}

/// Maps byte offsets to 1-based line numbers.
struct Lines {
    starts: Vec<usize>,
}

impl Lines {
    fn new(text: &str) -> Self {
        let mut starts = vec![0];
        starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        Self { starts }
    }
    fn line(&self, offset: usize) -> usize {
        match self.starts.binary_search(&offset) {
            Ok(i) => i + 1,
            Err(i) => i,
        }
    }
}

/// Parses TOML text; syntax errors come back all at once, each with its line.
pub fn parse(text: &str) -> Result<Table, Vec<AnswerError>> {
    let lines = Lines::new(text);
    let (doc, errors) = DeTable::parse_recoverable(text);
    if !errors.is_empty() {
        return Err(errors
            .into_iter()
            .map(|e| AnswerError {
                key: "(syntax)".into(),
                line: e.span().map(|s| lines.line(s.start)),
                problem: e.message().trim().to_string(),
                fix: "fix the TOML syntax at that line".into(),
            })
            .collect());
    }
    let mut errs = Vec::new();
    let table = convert_table(doc.get_ref(), &lines, &mut errs);
    if errs.is_empty() {
        Ok(table)
    } else {
        Err(errs)
    }
}

fn convert_table(t: &DeTable<'_>, lines: &Lines, errs: &mut Vec<AnswerError>) -> Table {
    Table {
        entries: t
            .iter()
            .map(|(k, v)| Entry {
                key: k.get_ref().to_string(),
                line: lines.line(k.span().start),
                node: convert(
                    v.get_ref(),
                    lines.line(v.span().start),
                    k.get_ref(),
                    lines,
                    errs,
                ),
            })
            .collect(),
    }
}

fn convert(
    v: &DeValue<'_>,
    line: usize,
    key: &str,
    lines: &Lines,
    errs: &mut Vec<AnswerError>,
) -> Node {
    let value = match v {
        DeValue::String(s) => Val::Str(s.to_string()),
        DeValue::Integer(i) => {
            let digits = i.as_str().replace('_', "");
            let (neg, body) = match digits.strip_prefix('-') {
                Some(b) => (true, b.to_string()),
                None => (false, digits.trim_start_matches('+').to_string()),
            };
            let body = body
                .trim_start_matches("0x")
                .trim_start_matches("0o")
                .trim_start_matches("0b");
            match i64::from_str_radix(body, i.radix()) {
                Ok(n) => Val::Int(if neg { -n } else { n }),
                Err(_) => {
                    errs.push(AnswerError::new(
                        key,
                        Some(line),
                        format!("'{}' is out of range", i.as_str()),
                        "use a smaller number",
                    ));
                    Val::Int(0)
                }
            }
        }
        DeValue::Float(f) => Val::Float(f.as_str().replace('_', "").parse().unwrap_or(f64::NAN)),
        DeValue::Boolean(b) => Val::Bool(*b),
        DeValue::Datetime(d) => Val::Datetime(d.to_string()),
        DeValue::Array(a) => Val::Array(
            a.iter()
                .map(|item| {
                    convert(
                        item.get_ref(),
                        lines.line(item.span().start),
                        key,
                        lines,
                        errs,
                    )
                })
                .collect(),
        ),
        DeValue::Table(t) => Val::Table(convert_table(t, lines, errs)),
    };
    Node { line, value }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_tracked_for_keys_and_tables() {
        let t =
            parse("name = \"x\"\n\n[server]\nsupportEmail = \"a@b.co\"\nport = 0x10\n").unwrap();
        assert_eq!(t.get("name").unwrap().line, 1);
        let Val::Table(server) = &t.get("server").unwrap().node.value else {
            panic!()
        };
        assert_eq!(server.get("supportEmail").unwrap().line, 4);
        assert_eq!(server.get("port").unwrap().node.value, Val::Int(16));
    }

    #[test]
    fn syntax_errors_have_lines() {
        let errs = parse("a = 1\nb = \n").unwrap_err();
        assert_eq!(errs[0].line, Some(2), "{errs:?}");
    }
}
