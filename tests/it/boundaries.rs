//! The boundaries docs/architecture.md promises, checked on the source tree, so that crossing one
//! fails a test instead of waiting for a reviewer:
//!
//! * the layers that do the work (`steps/`, `deploy/`, `engine/`, `commands/`, `guided/`) use
//!   nothing of `ui/` but the traits they hand events and requests through ([`UI_ALLOWED`]);
//! * `ui/` names no AWS SDK crate and no `AwsClients`: front ends never call AWS;
//! * the synthesizer (`deploy/synth/`) imports nothing from `steps/` or `answers/`;
//! * only `aws/` builds SDK clients (`aws_sdk_*::Client::new` / `from_conf`, any `aws_config`);
//! * line mode (`ui/prompt*`) and the shared layer (`ui/wizard/`) reach nothing inside the TUI
//!   (`ui/tui/`), and the shared layer nothing of line mode;
//! * outside tests, `"us-east-1"` is written once: `config::US_EAST_1`;
//! * outside tests, only the printer (`printer/`) writes to stdout or stderr: no print macros,
//!   no `io::stdout`/`io::stderr` elsewhere, but the terminal guard that owns the full
//!   screens ([`TERMINAL_WRITERS`]).
//!
//! The scan reads the source as tokens (comments dropped, strings kept whole; the tokenizer is
//! the permissions scan's). Every `use` tree is expanded (nested groups, `self`, `as`, globs,
//! across lines) and every path in the code (`crate::ui::tui::run(..)`, `Client::new`) is
//! resolved to an absolute one: `crate::`, `medplum_init::` (the binary's name for the library),
//! `self::`, `super::` (from the module the file is, `#[path]` and inline modules included),
//! names a `use` brought in, child modules, and `pub use` re-exports anywhere in the tree (so a
//! re-export cannot launder a forbidden item). The checker's own tests plant small source trees
//! to show that each rule fails when crossed.

use std::collections::{BTreeMap, BTreeSet};

use crate::harness::root;
use crate::permissions::{Tok, ident, punct, rust_files, tokens};

/// What the working layers may use of `ui/`: the traits through which they hand events to a
/// front end (and what the front end hands back), and the install-to-deploy hand-off. One list; add a trait here, not an exception
/// elsewhere.
const UI_ALLOWED: &[&str] = &[
    "crate::ui::Renderer",
    "crate::ui::FrontEnd",
    "crate::ui::ScreenEnd",
    "crate::ui::deploy::DeployRenderer",
    "crate::ui::handoff::DeployHandoff",
    "crate::ui::handoff::DeployRequest",
];

/// The layers that never draw, print or prompt (a folder that does not exist yet is covered as
/// soon as it does).
const WORKING_LAYERS: &[&str] = &[
    "src/steps/",
    "src/deploy/",
    "src/engine/",
    "src/commands/",
    "src/guided/",
    "src/app/",
];

/// Where the process's streams may be named: the printer, and the terminal guard (raw mode and
/// the alternate screen of both full screens are drawn on stderr).
const TERMINAL_WRITERS: &[&str] = &["src/printer/", "src/ui/terminal.rs"];

/// The one place `"us-east-1"` is spelled outside tests, and the constant it defines.
const US_EAST_1_HOME: (&str, &str) = ("src/config/mod.rs", "US_EAST_1");

type Path = Vec<String>;

fn path(s: &str) -> Path {
    s.split("::").map(str::to_string).collect()
}

fn show(p: &[String]) -> String {
    p.join("::")
}

fn starts_with(p: &[String], prefix: &[&str]) -> bool {
    p.len() >= prefix.len() && p.iter().zip(prefix).all(|(a, b)| a == b)
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Violation {
    rule: &'static str,
    /// `src/file.rs:line`.
    at: String,
    what: String,
}

/// A path the code names, resolved.
#[derive(Debug)]
struct Reference {
    file: usize,
    line: usize,
    path: Path,
}

/// One `use` leaf: `use a::{b as c}` gives path `a::b`, name `c`.
#[derive(Debug, Clone)]
struct UseItem {
    scope: usize,
    line: usize,
    /// As written; ends in `*` for a glob.
    path: Path,
    name: Option<String>,
    public: bool,
}

/// The module a token is in and whether it is test code.
#[derive(Debug, Clone)]
struct Scope {
    module: Path,
    test: bool,
}

struct File {
    rel: String,
    toks: Vec<(Tok, usize)>,
    /// Scope index of each token.
    scope_of: Vec<usize>,
    scopes: Vec<Scope>,
    /// Token ranges of `use` declarations.
    use_ranges: Vec<(usize, usize)>,
    uses: Vec<UseItem>,
}

fn colons(t: &[(Tok, usize)], i: usize) -> bool {
    punct(t, i, ':') && punct(t, i + 1, ':')
}

/// The module a file is by its place: `src/a/b.rs` and `src/a/b/mod.rs` are `crate::a::b`.
fn default_module(rel: &str) -> Path {
    let inner = rel.trim_start_matches("src/").trim_end_matches(".rs");
    let mut p = vec!["crate".to_string()];
    for part in inner.split('/') {
        if !matches!(part, "mod" | "lib" | "main") {
            p.push(part.to_string());
        }
    }
    p
}

/// Whether an outer attribute starts at `i` (`#[`; not `r#ident`, a raw identifier).
fn attribute_at(t: &[(Tok, usize)], i: usize) -> bool {
    punct(t, i, '#') && punct(t, i + 1, '[')
}

/// The index after the attribute starting at `i` (`#` `[` … `]` or `#` `!` `[` … `]`).
fn skip_attribute(t: &[(Tok, usize)], i: usize) -> usize {
    let mut j = i + 1;
    if punct(t, j, '!') {
        j += 1;
    }
    let mut depth = 0;
    while j < t.len() {
        if punct(t, j, '[') {
            depth += 1;
        } else if punct(t, j, ']') {
            depth -= 1;
            if depth == 0 {
                return j + 1;
            }
        }
        j += 1;
    }
    j
}

fn is_cfg_test(t: &[(Tok, usize)], i: usize) -> bool {
    let j = if punct(t, i + 1, '!') { i + 2 } else { i + 1 };
    punct(t, i, '#')
        && punct(t, j, '[')
        && ident(t, j + 1) == Some("cfg")
        && punct(t, j + 2, '(')
        && ident(t, j + 3) == Some("test")
        && punct(t, j + 4, ')')
}

/// `#[path = "x.rs"]` at `i`: the file name.
fn path_attribute(t: &[(Tok, usize)], i: usize) -> Option<String> {
    if punct(t, i, '#')
        && punct(t, i + 1, '[')
        && ident(t, i + 2) == Some("path")
        && punct(t, i + 3, '=')
        && let Some((Tok::Str(s), _)) = t.get(i + 4)
    {
        return Some(s.clone());
    }
    None
}

/// A file-module declaration (`mod name;`) with what its attributes say.
struct ModDecl {
    name: String,
    path_attr: Option<String>,
    test: bool,
}

/// The attributes before the item at `i` are skipped; returns the index of the item (after
/// its visibility) and whether one of them was `#[cfg(test)]` and a `#[path]`.
fn item_start(t: &[(Tok, usize)], mut i: usize) -> (usize, bool, Option<String>) {
    let (mut test, mut path_attr) = (false, None);
    while attribute_at(t, i) {
        test |= is_cfg_test(t, i);
        if let Some(p) = path_attribute(t, i) {
            path_attr = Some(p);
        }
        i = skip_attribute(t, i);
    }
    if ident(t, i) == Some("pub") {
        i += 1;
        if punct(t, i, '(') {
            while !punct(t, i, ')') {
                i += 1;
            }
            i += 1;
        }
    }
    (i, test, path_attr)
}

/// Module declarations without a body at the top level of a file.
fn mod_decls(t: &[(Tok, usize)]) -> Vec<ModDecl> {
    let mut out = Vec::new();
    let mut depth = 0;
    let mut i = 0;
    while i < t.len() {
        if depth == 0 && attribute_at(t, i) {
            let (j, test, path_attr) = item_start(t, i);
            if ident(t, j) == Some("mod")
                && let Some(name) = ident(t, j + 1)
                && punct(t, j + 2, ';')
            {
                out.push(ModDecl {
                    name: name.to_string(),
                    path_attr,
                    test,
                });
            }
            i = j.max(i + 1);
            continue;
        }
        if depth == 0
            && ident(t, i) == Some("mod")
            && let Some(name) = ident(t, i + 1)
            && punct(t, i + 2, ';')
        {
            out.push(ModDecl {
                name: name.to_string(),
                path_attr: None,
                test: false,
            });
        }
        if punct(t, i, '{') {
            depth += 1;
        } else if punct(t, i, '}') {
            depth -= 1;
        }
        i += 1;
    }
    out
}

/// Which module each token is in (inline `mod x { }` included) and whether it is test code
/// (`#[cfg(test)]` on a module or any other item, or a file that is a test module).
fn scopes(t: &[(Tok, usize)], module: &Path, file_test: bool) -> (Vec<usize>, Vec<Scope>) {
    struct Open {
        depth: usize,
        module: Option<String>,
        test: bool,
    }
    let mut scopes = vec![Scope {
        module: module.clone(),
        test: file_test,
    }];
    let mut stack: Vec<Open> = Vec::new();
    let mut current = 0;
    let mut of = vec![0; t.len()];
    let mut depth = 0;
    // After `#[cfg(test)]`: the next `{` at this nesting opens test code, a `;` ends the item.
    let mut pending_test = false;
    let mut pending_mod: Option<String> = None;
    let mut nesting = 0; // parentheses and brackets inside the pending item's signature
    let push = |stack: &Vec<Open>, scopes: &mut Vec<Scope>| {
        let mut m = module.clone();
        m.extend(stack.iter().filter_map(|o| o.module.clone()));
        let test = file_test || stack.iter().any(|o| o.test);
        scopes.push(Scope { module: m, test });
        scopes.len() - 1
    };
    let mut i = 0;
    while i < t.len() {
        if attribute_at(t, i) {
            let (j, test, _) = item_start(t, i);
            for k in &mut of[i..j.min(t.len())] {
                *k = current;
            }
            pending_test |= test;
            i = j;
            continue;
        }
        if ident(t, i) == Some("mod")
            && let Some(name) = ident(t, i + 1)
            && punct(t, i + 2, '{')
        {
            pending_mod = Some(name.to_string());
        }
        match &t[i].0 {
            Tok::Punct('(' | '[') => nesting += 1,
            Tok::Punct(')' | ']') => nesting -= 1,
            Tok::Punct(';') if nesting == 0 => {
                pending_test = false;
                pending_mod = None;
            }
            Tok::Punct('{') => {
                depth += 1;
                if pending_test || pending_mod.is_some() {
                    stack.push(Open {
                        depth,
                        module: pending_mod.take(),
                        test: pending_test,
                    });
                    pending_test = false;
                    current = push(&stack, &mut scopes);
                }
            }
            Tok::Punct('}') => {
                of[i] = current;
                if stack.last().is_some_and(|o| o.depth == depth) {
                    stack.pop();
                    current = push(&stack, &mut scopes);
                }
                depth -= 1;
                i += 1;
                continue;
            }
            _ => {}
        }
        of[i] = current;
        i += 1;
    }
    (of, scopes)
}

/// Parses the `use` tree at `i` under `prefix`; returns the index after it.
fn use_tree(
    t: &[(Tok, usize)],
    mut i: usize,
    mut prefix: Path,
    out: &mut Vec<(Path, Option<String>, usize)>,
) -> usize {
    if colons(t, i) {
        i += 2;
    }
    loop {
        if punct(t, i, '*') {
            prefix.push("*".into());
            out.push((prefix, None, t[i].1));
            return i + 1;
        }
        if punct(t, i, '{') {
            i += 1;
            while !punct(t, i, '}') {
                i = use_tree(t, i, prefix.clone(), out);
                if punct(t, i, ',') {
                    i += 1;
                }
            }
            return i + 1;
        }
        let Some(seg) = ident(t, i) else {
            return i + 1;
        };
        let line = t[i].1;
        i += 1;
        if colons(t, i) {
            prefix.push(seg.to_string());
            i += 2;
            continue;
        }
        let mut name = if seg == "self" {
            prefix.last().cloned()
        } else {
            prefix.push(seg.to_string());
            Some(seg.to_string())
        };
        if ident(t, i) == Some("as") {
            name = ident(t, i + 1).map(str::to_string);
            i += 2;
        }
        out.push((prefix, name, line));
        return i;
    }
}

fn parse_file(rel: &str, src: &str, module: Path, file_test: bool) -> File {
    let toks = tokens(src);
    let (scope_of, scopes) = scopes(&toks, &module, file_test);
    let mut uses = Vec::new();
    let mut use_ranges = Vec::new();
    for (i, &scope) in scope_of.iter().enumerate() {
        if ident(&toks, i) != Some("use") || punct(&toks, i.wrapping_sub(1), '.') {
            continue;
        }
        // `pub use`, `pub(crate) use`, `pub(super) use`.
        let public = ident(&toks, i.wrapping_sub(1)) == Some("pub")
            || (punct(&toks, i.wrapping_sub(1), ')')
                && ident(&toks, i.wrapping_sub(4)) == Some("pub"));
        let mut leaves = Vec::new();
        let end = use_tree(&toks, i + 1, Vec::new(), &mut leaves);
        use_ranges.push((i, end));
        for (path, name, line) in leaves {
            uses.push(UseItem {
                scope,
                line,
                path,
                name,
                public,
            });
        }
    }
    File {
        rel: rel.to_string(),
        toks,
        scope_of,
        scopes,
        use_ranges,
        uses,
    }
}

/// Every file with its module path (following `#[path]`) and whether it is a test module.
fn parse_tree(sources: &[(String, String)]) -> Vec<File> {
    let mut modules: BTreeMap<String, Path> = sources
        .iter()
        .map(|(rel, _)| (rel.clone(), default_module(rel)))
        .collect();
    let mut test_modules: BTreeSet<Path> = BTreeSet::new();
    for (rel, src) in sources {
        let parent = modules[rel].clone();
        let dir = rel.rsplit_once('/').map(|(d, _)| d).unwrap_or("");
        for d in mod_decls(&tokens(src)) {
            let mut m = parent.clone();
            m.push(d.name.clone());
            if let Some(p) = &d.path_attr {
                modules.insert(format!("{dir}/{p}"), m.clone());
            }
            if d.test {
                test_modules.insert(m);
            }
        }
    }
    sources
        .iter()
        .map(|(rel, src)| {
            let module = modules[rel].clone();
            let test = test_modules
                .iter()
                .any(|t| module.starts_with(t.as_slice()));
            parse_file(rel, src, module, test)
        })
        .collect()
}

/// What the names of the tree resolve to: modules, `use` bindings per module, re-exports.
struct Resolver {
    modules: BTreeSet<Path>,
    /// (module, name) to the absolute path a `use` binds it to.
    bindings: BTreeMap<(Path, String), Path>,
    /// `module::name` to what a `pub use` there re-exports.
    reexports: BTreeMap<Path, Path>,
    /// Modules to the modules whose names they import with a glob (`use super::*`).
    globs: BTreeMap<Path, BTreeSet<Path>>,
}

impl Resolver {
    fn new(files: &[File]) -> Self {
        let mut r = Resolver {
            modules: BTreeSet::new(),
            bindings: BTreeMap::new(),
            reexports: BTreeMap::new(),
            globs: BTreeMap::new(),
        };
        for f in files {
            for s in &f.scopes {
                for n in 1..=s.module.len() {
                    r.modules.insert(s.module[..n].to_vec());
                }
            }
        }
        // A use path may start with a name another use brought in; settle those in rounds.
        for _ in 0..4 {
            for f in files {
                for u in &f.uses {
                    let module = &f.scopes[u.scope].module;
                    let target = r.absolute(&u.path, module);
                    let Some(name) = &u.name else {
                        if let Some((star, from)) = target.split_last()
                            && star == "*"
                        {
                            r.globs
                                .entry(module.clone())
                                .or_default()
                                .insert(from.to_vec());
                        }
                        continue;
                    };
                    r.bindings
                        .insert((module.clone(), name.clone()), target.clone());
                    if u.public {
                        let mut at = module.clone();
                        at.push(name.clone());
                        if at != target {
                            r.reexports.insert(at, target);
                        }
                    }
                }
            }
        }
        r
    }

    /// `path` as written in `module`, made absolute where the tree says what it is.
    fn absolute(&self, p: &[String], module: &[String]) -> Path {
        let Some(first) = p.first() else {
            return Vec::new();
        };
        let rest = || p[1..].to_vec();
        let mut out: Path = match first.as_str() {
            "crate" => p.to_vec(),
            "medplum_init" => [vec!["crate".to_string()], rest()].concat(),
            "self" => [module.to_vec(), rest()].concat(),
            "super" => {
                let ups = p.iter().take_while(|s| *s == "super").count();
                let base = module[..module.len().saturating_sub(ups).max(1)].to_vec();
                [base, p[ups..].to_vec()].concat()
            }
            _ => {
                let mut child = module.to_vec();
                child.push(first.clone());
                if let Some(b) = self.binding(module, first) {
                    [b, rest()].concat()
                } else if self.modules.contains(&child) {
                    [module.to_vec(), p.to_vec()].concat()
                } else {
                    p.to_vec()
                }
            }
        };
        // Follow re-exports: `crate::a::X` where `a` says `pub use crate::b::Y as X`.
        for _ in 0..8 {
            let hit = (2..=out.len())
                .rev()
                .find_map(|n| self.reexports.get(&out[..n]).map(|t| (n, t.clone())));
            match hit {
                Some((n, target)) => out = [target, out[n..].to_vec()].concat(),
                None => break,
            }
        }
        out
    }

    /// A name bound by a `use` in `module`, or in a module it glob-imports (`use super::*`
    /// makes the parent's imports visible too).
    fn binding(&self, module: &[String], name: &str) -> Option<Path> {
        self.binding_within(module, name, 4)
    }

    fn binding_within(&self, module: &[String], name: &str, hops: usize) -> Option<Path> {
        if let Some(b) = self.bindings.get(&(module.to_vec(), name.to_string())) {
            return Some(b.clone());
        }
        if hops == 0 {
            return None;
        }
        self.globs
            .get(module)?
            .iter()
            .find_map(|from| self.binding_within(from, name, hops - 1))
    }
}

/// Every path the tree names: the leaves of each `use`, every `a::b` in the code, and single
/// names a `use` bound (or `AwsClients`, however it got there).
fn references(files: &[File], r: &Resolver) -> Vec<Reference> {
    let mut out = Vec::new();
    for (n, f) in files.iter().enumerate() {
        for u in &f.uses {
            out.push(Reference {
                file: n,
                line: u.line,
                path: r.absolute(&u.path, &f.scopes[u.scope].module),
            });
        }
        let t = &f.toks;
        let in_use = |i: usize| f.use_ranges.iter().any(|&(a, b)| a <= i && i < b);
        let mut i = 0;
        while i < t.len() {
            let Some(first) = ident(t, i) else {
                i += 1;
                continue;
            };
            if in_use(i) || (i >= 2 && colons(t, i - 2)) || punct(t, i.wrapping_sub(1), '.') {
                i += 1;
                continue;
            }
            let mut p = vec![first.to_string()];
            let mut j = i + 1;
            while colons(t, j)
                && let Some(next) = ident(t, j + 2)
            {
                p.push(next.to_string());
                j += 3;
            }
            let module = &f.scopes[f.scope_of[i]].module;
            if p.len() > 1 || r.binding(module, first).is_some() || first == "AwsClients" {
                out.push(Reference {
                    file: n,
                    line: t[i].1,
                    path: r.absolute(&p, module),
                });
            }
            i = j;
        }
    }
    out
}

fn under(rel: &str, dirs: &[&str]) -> bool {
    dirs.iter().any(|d| rel.starts_with(d))
}

fn ui_allowed(p: &[String]) -> bool {
    UI_ALLOWED.iter().any(|a| {
        let a = path(a);
        p.starts_with(&a)
    })
}

/// Every boundary crossed in `sources` (relative path, text).
fn check(sources: &[(String, String)]) -> Vec<Violation> {
    let files = parse_tree(sources);
    let resolver = Resolver::new(&files);
    let mut out = BTreeSet::new();
    for reference in references(&files, &resolver) {
        let f = &files[reference.file];
        let rel = f.rel.as_str();
        let p = &reference.path;
        let mut flag = |rule: &'static str| {
            out.insert(Violation {
                rule,
                at: format!("{rel}:{}", reference.line),
                what: show(p),
            });
        };
        if under(rel, WORKING_LAYERS) && starts_with(p, &["crate", "ui"]) && !ui_allowed(p) {
            flag("a working layer uses ui/ beyond the event and renderer traits");
        }
        let sdk = p.first().is_some_and(|s| s.starts_with("aws_sdk_"));
        if rel.starts_with("src/ui/")
            && (sdk
                || p.first().is_some_and(|s| s == "aws_config")
                || p.iter().any(|s| s == "AwsClients"))
        {
            flag("ui/ names the AWS SDK or AwsClients");
        }
        if rel.starts_with("src/deploy/synth/")
            && (starts_with(p, &["crate", "steps"]) || starts_with(p, &["crate", "answers"]))
        {
            flag("the synthesizer imports from steps/ or answers/");
        }
        let builds = sdk
            && p.windows(2)
                .any(|w| w[0] == "Client" && (w[1] == "new" || w[1] == "from_conf"));
        if !rel.starts_with("src/aws/") && (builds || p.first().is_some_and(|s| s == "aws_config"))
        {
            flag("an SDK client is built outside aws/");
        }
        let line_mode = rel == "src/ui/prompt.rs" || rel.starts_with("src/ui/prompt/");
        let shared = rel.starts_with("src/ui/wizard/");
        if (line_mode || shared) && starts_with(p, &["crate", "ui", "tui"]) {
            flag("line mode or the shared layer reaches into the TUI");
        }
        if shared && starts_with(p, &["crate", "ui", "prompt"]) {
            flag("the shared layer reaches into line mode");
        }
    }
    for f in &files {
        if under(&f.rel, TERMINAL_WRITERS) {
            continue;
        }
        let t = &f.toks;
        for (i, (_, line)) in t.iter().enumerate() {
            if f.scopes[f.scope_of[i]].test {
                continue;
            }
            let Some(name) = ident(t, i) else { continue };
            let macro_call =
                ["print", "println", "eprint", "eprintln"].contains(&name) && punct(t, i + 1, '!');
            let stream = ["stdout", "stderr"].contains(&name)
                && i >= 3
                && colons(t, i - 2)
                && ident(t, i - 3) == Some("io");
            if macro_call || stream {
                out.insert(Violation {
                    rule: "writes to the terminal outside the printer",
                    at: format!("{}:{line}", f.rel),
                    what: name.to_string(),
                });
            }
        }
    }
    for f in &files {
        let t = &f.toks;
        for (i, (tok, line)) in t.iter().enumerate() {
            let Tok::Str(s) = tok else { continue };
            if s != "us-east-1" || f.scopes[f.scope_of[i]].test {
                continue;
            }
            let home = f.rel == US_EAST_1_HOME.0
                && i >= 5
                && ident(t, i - 5) == Some(US_EAST_1_HOME.1)
                && punct(t, i - 1, '=');
            if !home {
                out.insert(Violation {
                    rule: "\"us-east-1\" spelled out instead of config::US_EAST_1",
                    at: format!("{}:{line}", f.rel),
                    what: s.clone(),
                });
            }
        }
    }
    out.into_iter().collect()
}

fn source_tree() -> Vec<(String, String)> {
    let mut paths = Vec::new();
    rust_files(&root().join("src"), &mut paths);
    paths.sort();
    paths
        .into_iter()
        .map(|p| {
            let rel = p
                .strip_prefix(root())
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/");
            (rel, std::fs::read_to_string(&p).unwrap())
        })
        .collect()
}

#[test]
fn the_source_tree_keeps_its_boundaries() {
    let sources = source_tree();
    assert!(
        sources.len() > 100,
        "only {} files under src/",
        sources.len()
    );
    let problems = check(&sources);
    assert!(
        problems.is_empty(),
        "{} boundary crossings (see docs/architecture.md, Boundaries):\n{}",
        problems.len(),
        problems
            .iter()
            .map(|v| format!("  {}: {} ({})", v.at, v.rule, v.what))
            .collect::<Vec<_>>()
            .join("\n")
    );
}

#[test]
fn every_allowed_ui_item_exists() {
    // A stale allow-list entry would let a renamed module's items through unnoticed.
    let files = parse_tree(&source_tree());
    for allowed in UI_ALLOWED {
        let p = path(allowed);
        let (module, name) = p.split_at(p.len() - 1);
        let defined = files.iter().any(|f| {
            let t = &f.toks;
            (1..t.len()).any(|i| {
                ident(t, i) == Some(name[0].as_str())
                    && matches!(ident(t, i - 1), Some("trait" | "struct" | "enum" | "type"))
                    && f.scopes[f.scope_of[i]].module == module
            })
        });
        assert!(defined, "{allowed} is allowed but defined nowhere");
    }
}

// ---------------------------------------------------------------------------------------------
// The checker on planted trees: each rule fails when crossed, and what is allowed passes.

fn tree(files: &[(&str, &str)]) -> Vec<(String, String)> {
    files
        .iter()
        .map(|(p, s)| (p.to_string(), s.to_string()))
        .collect()
}

/// The crossings in a planted tree, as `(file:line, the path or literal)`, ordered by rule.
fn crossings(files: &[(&str, &str)]) -> Vec<(String, String)> {
    check(&tree(files))
        .into_iter()
        .map(|v| (v.at, v.what))
        .collect()
}

fn pair(at: &str, what: &str) -> (String, String) {
    (at.to_string(), what.to_string())
}

#[test]
fn a_working_layer_may_use_only_the_allowed_ui_traits() {
    let found = crossings(&[
        (
            "src/steps/x.rs",
            "use crate::{\n    engine::Ctx,\n    ui::{Renderer, tui::app::App},\n};\n\
             fn f(r: &mut dyn Renderer) {}\n",
        ),
        (
            "src/deploy/mod.rs",
            "use super::ui::style::Style;\nuse crate::ui::deploy::DeployRenderer;\n",
        ),
        (
            "src/engine/z.rs",
            "use crate::ui as front;\nfn f() { front::tui::run(); }\n",
        ),
        (
            "src/commands/deploy.rs",
            "fn f() {\n    let r: Box<dyn crate::ui::deploy::DeployRenderer>;\n    \
             medplum_init::ui::deploy::screen::run(rx, cancel);\n}\n",
        ),
        ("src/guided/mod.rs", "use crate::ui::handoff::*;\n"),
    ]);
    assert_eq!(
        found,
        vec![
            pair("src/commands/deploy.rs:3", "crate::ui::deploy::screen::run"),
            pair("src/deploy/mod.rs:1", "crate::ui::style::Style"),
            pair("src/engine/z.rs:1", "crate::ui"),
            pair("src/engine/z.rs:2", "crate::ui::tui::run"),
            pair("src/guided/mod.rs:1", "crate::ui::handoff::*"),
            pair("src/steps/x.rs:3", "crate::ui::tui::app::App"),
        ]
    );
}

#[test]
fn super_paths_resolve_from_the_module_a_file_is() {
    // deployer_tests.rs is `crate::deploy::deployer::tests` through `#[path]`: three supers
    // reach the crate root, so this names crate::ui::tui; without `#[path]` the scan would put
    // the file one level higher and miss it.
    let found = crossings(&[
        (
            "src/deploy/deployer.rs",
            "#[cfg(test)]\n#[path = \"deployer_tests.rs\"]\nmod tests;\n",
        ),
        (
            "src/deploy/deployer_tests.rs",
            "use super::super::super::ui::tui::App;\n",
        ),
        (
            "src/steps/certificates/mod.rs",
            "mod inner {\n    use super::super::super::ui::plain;\n}\n",
        ),
    ]);
    assert_eq!(
        found,
        vec![
            pair("src/deploy/deployer_tests.rs:1", "crate::ui::tui::App"),
            pair("src/steps/certificates/mod.rs:2", "crate::ui::plain"),
        ]
    );
}

#[test]
fn ui_names_no_sdk_and_no_clients_even_through_a_re_export() {
    let found = crossings(&[
        ("src/ui/a.rs", "use aws_sdk_s3::Client;\n"),
        (
            "src/ui/b.rs",
            "struct S {\n    c: crate::aws::AwsClients,\n}\n",
        ),
        (
            "src/guided/mod.rs",
            "pub use crate::aws::AwsClients as Clients;\n",
        ),
        (
            "src/ui/c.rs",
            "use crate::guided::Clients;\nuse crate::guided::Guide;\n",
        ),
        (
            "src/ui/d.rs",
            "// use aws_sdk_s3::Client;\nconst S: &str = \"aws_sdk_s3::Client\";\n",
        ),
    ]);
    assert_eq!(
        found,
        vec![
            pair("src/ui/a.rs:1", "aws_sdk_s3::Client"),
            pair("src/ui/b.rs:2", "crate::aws::AwsClients"),
            pair("src/ui/c.rs:1", "crate::aws::AwsClients"),
        ]
    );
}

#[test]
fn the_synthesizer_imports_nothing_from_steps_or_answers() {
    let found = crossings(&[
        (
            "src/deploy/synth/a.rs",
            "use crate::answers::validators as v;\nuse crate::config::zones::Zone;\n\
             fn f() { let z = crate::steps::dns::Zone { id, name }; }\n",
        ),
        ("src/deploy/b.rs", "use crate::steps::dns::Zone;\n"),
    ]);
    assert_eq!(
        found,
        vec![
            pair("src/deploy/synth/a.rs:1", "crate::answers::validators"),
            pair("src/deploy/synth/a.rs:3", "crate::steps::dns::Zone"),
        ]
    );
}

#[test]
fn only_aws_builds_sdk_clients() {
    let source = "use aws_sdk_s3::Client;\nuse aws_sdk_sts as sts;\n\
                  fn f(conf: &Conf) {\n    let a = Client::new(conf);\n    \
                  let b = sts::Client::from_conf(conf.clone());\n    \
                  let c = aws_config::defaults(v);\n    let d = a.list_buckets();\n}\n";
    let found = crossings(&[("src/steps/x.rs", source), ("src/aws/clients.rs", source)]);
    assert_eq!(
        found,
        vec![
            pair("src/steps/x.rs:4", "aws_sdk_s3::Client::new"),
            pair("src/steps/x.rs:5", "aws_sdk_sts::Client::from_conf"),
            pair("src/steps/x.rs:6", "aws_config::defaults"),
        ]
    );
}

#[test]
fn line_mode_and_the_shared_layer_stay_out_of_the_tui() {
    let found = crossings(&[
        (
            "src/ui/prompt.rs",
            "use crate::ui::tui::widgets::Theme;\nuse super::tui::app::App;\n\
             use crate::ui::wizard::text::Theme as T;\n",
        ),
        ("src/ui/prompt/tests.rs", "use crate::ui::tui::review;\n"),
        (
            "src/ui/wizard/mod.rs",
            "pub mod text;\nuse crate::ui::prompt::Prompter;\n",
        ),
        ("src/ui/tui/mod.rs", "use crate::ui::wizard::text::Theme;\n"),
    ]);
    assert_eq!(
        found,
        vec![
            pair("src/ui/prompt.rs:1", "crate::ui::tui::widgets::Theme"),
            pair("src/ui/prompt.rs:2", "crate::ui::tui::app::App"),
            pair("src/ui/prompt/tests.rs:1", "crate::ui::tui::review"),
            pair("src/ui/wizard/mod.rs:2", "crate::ui::prompt::Prompter"),
        ]
    );
}

#[test]
fn us_east_1_is_spelled_once_outside_tests() {
    let found = crossings(&[
        (
            "src/config/mod.rs",
            "pub const US_EAST_1: &str = \"us-east-1\";\n",
        ),
        (
            "src/steps/x.rs",
            "fn f() -> &'static str {\n    \"us-east-1\"\n}\n\n#[cfg(test)]\nmod tests {\n    \
             const R: &str = \"us-east-1\";\n}\n#[cfg(test)]\nfn helper() { g(\"us-east-1\"); }\n\
             fn raw() { r#ref(1); }\nfn later() { h('}', \"us-east-1\"); }\n",
        ),
        (
            "src/deploy/monitor.rs",
            "#[cfg(test)]\n#[path = \"monitor_tests.rs\"]\nmod tests;\n",
        ),
        (
            "src/deploy/monitor_tests.rs",
            "const R: &str = \"us-east-1\";\n",
        ),
    ]);
    assert_eq!(
        found,
        vec![
            pair("src/steps/x.rs:12", "us-east-1"),
            pair("src/steps/x.rs:2", "us-east-1"),
        ]
    );
}

#[test]
fn only_the_printer_writes_to_the_terminal() {
    let found = crossings(&[
        (
            "src/printer/mod.rs",
            "pub fn status() { eprintln!(\"x\"); let _ = std::io::stderr(); }",
        ),
        ("src/ui/terminal.rs", "use std::io::stderr;"),
        ("src/commands/x.rs", "fn f() { println!(\"x\"); }"),
        (
            "src/ui/y.rs",
            "use std::io::{self, Write};\nfn f() { let _ = io::stdout(); }",
        ),
        (
            "src/steps/z.rs",
            "fn f() {}\n#[cfg(test)]\nmod tests { fn g() { eprintln!(\"ok in a test\"); } }",
        ),
    ]);
    assert_eq!(
        found,
        [
            pair("src/commands/x.rs:1", "println"),
            pair("src/ui/y.rs:2", "stdout"),
        ]
    );
}
