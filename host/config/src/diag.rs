//! Compiler-style diagnostics: every configuration problem with its file, line, column, the
//! offending source line and a hint, collected across all files and reported at once.

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

/// One configuration problem, located in a file. Serializes (for `--json` output) as
/// `{"file", "line", "column", "message", "hint", "notes"}`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Diagnostic {
    /// The file the problem is in, as the loader named it (relative to the working directory
    /// when the host file was given relatively).
    pub file: PathBuf,
    /// 1-based line; 0 when the problem concerns the file as a whole (unreadable, missing).
    pub line: usize,
    /// 1-based column in characters; 0 when `line` is 0.
    pub column: usize,
    /// What is wrong, lowercase, without a trailing full stop.
    pub message: String,
    /// How to fix it.
    pub hint: Option<String>,
    /// Extra context, such as where a duplicate was first defined.
    pub notes: Vec<String>,
    #[serde(skip)]
    snippet: Option<Snippet>,
    #[serde(skip)]
    order: (usize, usize),
    /// Set on diagnostics about a secret written inline: no diagnostic may show that line.
    #[serde(skip)]
    redacts_line: bool,
}

/// The source line shown under a diagnostic with the offending part underlined.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Snippet {
    text: String,
    underline_start: usize,
    underline_len: usize,
}

impl Diagnostic {
    /// A diagnostic about a whole file (no position), e.g. a file that cannot be read.
    pub fn file_level(file: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        Self {
            file: file.into(),
            line: 0,
            column: 0,
            message: message.into(),
            hint: None,
            notes: Vec::new(),
            snippet: None,
            order: (usize::MAX, 0),
            redacts_line: false,
        }
    }

    /// Adds a hint (`= hint: ...`).
    #[must_use]
    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// Adds a note (`= note: ...`).
    #[must_use]
    pub fn with_note(mut self, note: impl Into<String>) -> Self {
        self.notes.push(note.into());
        self
    }

    /// Replaces every character inside quotes on the shown source line with `*` (keeping the
    /// underline in place), when the line looks like it holds a credential. Used for TOML
    /// syntax errors, which are found before the schema knows which values are secrets.
    pub(crate) fn mask_secretish_line(&mut self) {
        let Some(snippet) = &mut self.snippet else {
            return;
        };
        if !looks_secret(&snippet.text) {
            return;
        }
        let mut quote = None;
        snippet.text = snippet
            .text
            .chars()
            .map(|c| match quote {
                Some(q) if c == q => {
                    quote = None;
                    c
                }
                Some(_) => '*',
                None => {
                    if c == '"' || c == '\'' {
                        quote = Some(c);
                    }
                    c
                }
            })
            .collect();
    }

    /// `file:line:column`, or just the file when the diagnostic has no position.
    pub fn location(&self) -> String {
        if self.line == 0 {
            self.file.display().to_string()
        } else {
            format!("{}:{}:{}", self.file.display(), self.line, self.column)
        }
    }

    /// A diagnostic at a recorded origin (no source line shown), e.g. for a plugin that fails
    /// to load or a secret that fails to resolve, found after loading.
    pub fn at(origin: &Origin, message: impl Into<String>) -> Self {
        Self {
            file: origin.file.clone(),
            line: origin.line,
            column: origin.column,
            message: message.into(),
            hint: None,
            notes: Vec::new(),
            snippet: None,
            order: (usize::MAX, 0),
            redacts_line: false,
        }
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let width = if self.line == 0 {
            1
        } else {
            self.line.to_string().len()
        };
        let pad = " ".repeat(width);
        writeln!(f, "error: {}", self.message)?;
        write!(f, "{pad}--> {}", self.location())?;
        if let Some(snippet) = &self.snippet {
            write!(f, "\n{pad} |")?;
            write!(f, "\n{} | {}", self.line, snippet.text)?;
            write!(
                f,
                "\n{pad} | {}{}",
                " ".repeat(snippet.underline_start),
                "^".repeat(snippet.underline_len.max(1))
            )?;
        }
        for note in &self.notes {
            write!(f, "\n{pad} = note: {note}")?;
        }
        if let Some(hint) = &self.hint {
            write!(f, "\n{pad} = hint: {hint}")?;
        }
        Ok(())
    }
}

/// Every problem found while loading a configuration, in file order. Serializes as a JSON
/// array of [`Diagnostic`].
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
#[serde(transparent)]
pub struct Diagnostics {
    items: Vec<Diagnostic>,
}

impl Diagnostics {
    /// An empty collection.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds one problem.
    pub fn push(&mut self, diagnostic: Diagnostic) {
        self.items.push(diagnostic);
    }

    /// Number of problems.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// True when no problem was found.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// The problems, in file order.
    pub fn iter(&self) -> std::slice::Iter<'_, Diagnostic> {
        self.items.iter()
    }

    /// Sorts by file (in the order files were read) and position within the file, and drops
    /// the source line from any diagnostic on a line that holds an inline secret.
    pub(crate) fn finish(&mut self) {
        self.items.sort_by_key(|d| d.order);
        let redacted: Vec<(PathBuf, usize)> = self
            .items
            .iter()
            .filter(|d| d.redacts_line)
            .map(|d| (d.file.clone(), d.line))
            .collect();
        for d in &mut self.items {
            if redacted.iter().any(|(f, l)| *f == d.file && *l == d.line) {
                d.snippet = None;
            }
        }
    }

    pub(crate) fn extend(&mut self, other: Diagnostics) {
        self.items.extend(other.items);
    }
}

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for diagnostic in &self.items {
            writeln!(f, "{diagnostic}\n")?;
        }
        let n = self.items.len();
        write!(
            f,
            "error: configuration has {n} problem{}",
            if n == 1 { "" } else { "s" }
        )
    }
}

impl std::error::Error for Diagnostics {}

impl IntoIterator for Diagnostics {
    type Item = Diagnostic;
    type IntoIter = std::vec::IntoIter<Diagnostic>;
    fn into_iter(self) -> Self::IntoIter {
        self.items.into_iter()
    }
}

impl<'a> IntoIterator for &'a Diagnostics {
    type Item = &'a Diagnostic;
    type IntoIter = std::slice::Iter<'a, Diagnostic>;
    fn into_iter(self) -> Self::IntoIter {
        self.items.iter()
    }
}

/// A position in a configuration file, kept on typed values so later checks (duplicate ids,
/// secret resolution) can point back at the source.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize)]
pub struct Origin {
    /// The file.
    pub file: PathBuf,
    /// 1-based line (0 when unknown, e.g. for configs built in code).
    pub line: usize,
    /// 1-based column (0 when unknown).
    pub column: usize,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}", self.file.display())
        } else {
            write!(f, "{}:{}:{}", self.file.display(), self.line, self.column)
        }
    }
}

/// A loaded configuration file's text, used to turn byte spans into positions.
#[derive(Debug)]
pub(crate) struct SourceFile {
    pub path: PathBuf,
    pub text: String,
    /// Position of this file in load order, used to sort diagnostics.
    pub seq: usize,
}

impl SourceFile {
    pub fn new(path: PathBuf, text: String, seq: usize) -> Self {
        Self { path, text, seq }
    }

    /// Directory that relative paths in this file are resolved against.
    pub fn dir(&self) -> &Path {
        self.path.parent().unwrap_or(Path::new(""))
    }

    /// (line, column, line text, column of span start in chars within the line) for an offset.
    fn locate(&self, offset: usize) -> (usize, usize, &str, usize) {
        let offset = offset.min(self.text.len());
        let offset = (0..=offset)
            .rev()
            .find(|&o| self.text.is_char_boundary(o))
            .unwrap_or(0);
        let before = &self.text[..offset];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let line_end = self.text[line_start..]
            .find('\n')
            .map_or(self.text.len(), |i| line_start + i);
        let line_text = self.text[line_start..line_end].trim_end_matches('\r');
        let col = self.text[line_start..offset].chars().count();
        (line, col + 1, line_text, col)
    }

    /// The origin (file, line, column) of a span.
    pub fn origin(&self, span: &Range<usize>) -> Origin {
        let (line, column, _, _) = self.locate(span.start);
        Origin {
            file: self.path.clone(),
            line,
            column,
        }
    }

    /// A diagnostic at `span`, showing the source line with the span underlined.
    pub fn error(&self, span: Range<usize>, message: impl Into<String>) -> Diagnostic {
        let (line, column, text, col0) = self.locate(span.start);
        let line_rest = text.chars().count().saturating_sub(col0);
        let span_chars = self
            .text
            .get(span.clone())
            .map_or(1, |s| s.split('\n').next().unwrap_or("").chars().count());
        Diagnostic {
            file: self.path.clone(),
            line,
            column,
            message: message.into(),
            hint: None,
            notes: Vec::new(),
            snippet: Some(Snippet {
                text: text.to_string(),
                underline_start: col0,
                underline_len: span_chars.min(line_rest).max(1),
            }),
            order: (self.seq, span.start),
            redacts_line: false,
        }
    }

    /// A diagnostic at `span` that does not echo the source line: used where the line may hold
    /// a secret written inline, which must never reach a terminal or a log.
    pub fn error_redacted(&self, span: Range<usize>, message: impl Into<String>) -> Diagnostic {
        let mut d = self.error(span, message);
        d.snippet = None;
        d.redacts_line = true;
        d
    }
}

/// True when a key or line mentions a credential (`token`, `secret`, `password`, `key`, ...).
pub(crate) fn looks_secret(text: &str) -> bool {
    let lower = text.to_ascii_lowercase();
    ["token", "secret", "password", "passwd", "key", "credential"]
        .iter()
        .any(|w| lower.contains(w))
}

/// Levenshtein edit distance between two short strings.
pub(crate) fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.iter().enumerate() {
        cur[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

/// The closest candidate to `word` if it is close enough to be a plausible typo.
pub(crate) fn suggest<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
    let limit = (word.chars().count() / 3).max(1);
    candidates
        .iter()
        .map(|c| (edit_distance(&word.to_lowercase(), c), *c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// A hint for an unknown name: "did you mean `x`?" or the list of what is accepted.
pub(crate) fn unknown_hint(word: &str, candidates: &[&str]) -> String {
    match suggest(word, candidates) {
        Some(s) => format!("did you mean `{s}`?"),
        None => format!("expected one of {}", list(candidates)),
    }
}

/// "`a`, `b` or `c`".
pub(crate) fn list(items: &[&str]) -> String {
    let quoted: Vec<String> = items.iter().map(|s| format!("`{s}`")).collect();
    match quoted.len() {
        0 => String::new(),
        1 => quoted[0].clone(),
        n => format!("{} or {}", quoted[..n - 1].join(", "), quoted[n - 1]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edit_distance_counts_single_edits() {
        assert_eq!(edit_distance("shopfy", "shopify"), 1);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }

    #[test]
    fn suggestion_only_for_close_names() {
        assert_eq!(suggest("shopfy", &["store", "shopify"]), Some("shopify"));
        assert_eq!(suggest("zzzz", &["store", "shopify"]), None);
    }

    #[test]
    fn serializes_for_json_output() {
        let src = SourceFile::new("weft.toml".into(), "x = 1\n".into(), 0);
        let mut all = Diagnostics::new();
        all.push(
            src.error(0..1, "unknown key `x`")
                .with_hint("did you mean `y`?"),
        );
        assert_eq!(
            serde_json::to_value(&all).unwrap(),
            serde_json::json!([{ "file": "weft.toml", "line": 1, "column": 1,
                "message": "unknown key `x`", "hint": "did you mean `y`?", "notes": [] }])
        );
    }

    #[test]
    fn renders_like_a_compiler() {
        let src = SourceFile::new("stores/acme.toml".into(), "a = 1\n\n[shopfy]\n".into(), 0);
        let d = src
            .error(8..14, "unknown key `shopfy`")
            .with_hint("did you mean `shopify`?");
        assert_eq!(
            d.to_string(),
            "error: unknown key `shopfy`\n --> stores/acme.toml:3:2\n  |\n3 | [shopfy]\n  |  ^^^^^^\n  = hint: did you mean `shopify`?"
        );
    }
}
