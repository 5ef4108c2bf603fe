//! Secrets by reference: a `Secret` names where a credential lives (an environment variable or a
//! file) and is resolved only on demand; neither it nor the resolved value ever prints its value.

use std::fmt;
use std::path::PathBuf;

use crate::diag::Origin;

/// Where a secret's value comes from.
#[derive(Clone, PartialEq, Eq)]
pub enum SecretSource {
    /// `{ env = "NAME" }`: read the environment variable when resolved.
    Env(String),
    /// `{ file = "/run/secrets/x" }`: read the file when resolved (surrounding whitespace and
    /// the trailing newline are trimmed). Relative paths are already resolved against the
    /// config file that named them.
    File(PathBuf),
    /// A value supplied in code (demo and test configs built programmatically). Never produced
    /// by the loader: config files cannot hold inline secrets.
    Value(SecretString),
}

/// A credential held by reference. `Debug` and `Display` print `Secret(***)`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret {
    source: SecretSource,
    /// What the secret is for, e.g. `shopify.access_token of store `acme``, used in errors.
    label: String,
    origin: Option<Origin>,
}

impl Secret {
    /// A secret read from an environment variable when resolved.
    pub fn env(name: impl Into<String>) -> Self {
        Self::from_source(SecretSource::Env(name.into()))
    }

    /// A secret read from a file when resolved.
    pub fn file(path: impl Into<PathBuf>) -> Self {
        Self::from_source(SecretSource::File(path.into()))
    }

    /// A secret whose value is given in code (for demo and test configs; config files cannot
    /// do this).
    pub fn value(value: impl Into<String>) -> Self {
        Self::from_source(SecretSource::Value(SecretString::new(value.into())))
    }

    fn from_source(source: SecretSource) -> Self {
        Self {
            source,
            label: String::new(),
            origin: None,
        }
    }

    /// Names what the secret is for; the label appears in resolution errors.
    #[must_use]
    pub fn with_label(mut self, label: impl Into<String>) -> Self {
        self.label = label.into();
        self
    }

    pub(crate) fn with_origin(mut self, origin: Origin) -> Self {
        self.origin = Some(origin);
        self
    }

    /// Where the value comes from.
    pub fn source(&self) -> &SecretSource {
        &self.source
    }

    /// What the secret is for (may be empty for secrets built in code).
    pub fn label(&self) -> &str {
        &self.label
    }

    /// Where in the config files the reference was written, when loaded from a file.
    pub fn origin(&self) -> Option<&Origin> {
        self.origin.as_ref()
    }

    /// Human description of the reference (never the value): "environment variable `X`",
    /// "file `/run/secrets/x`" or "a value set in code".
    pub fn describe(&self) -> String {
        match &self.source {
            SecretSource::Env(name) => format!("environment variable `{name}`"),
            SecretSource::File(path) => format!("file `{}`", path.display()),
            SecretSource::Value(_) => "a value set in code".to_string(),
        }
    }

    /// Reads the value now. Errors name the variable or file, never a value.
    pub fn resolve(&self) -> Result<SecretString, SecretError> {
        let what = if self.label.is_empty() {
            "secret".to_string()
        } else {
            self.label.clone()
        };
        match &self.source {
            SecretSource::Env(name) => match std::env::var(name) {
                Ok(v) if !v.is_empty() => Ok(SecretString::new(v)),
                Ok(_) => Err(SecretError::EmptyEnv {
                    what,
                    var: name.clone(),
                }),
                Err(std::env::VarError::NotPresent) => Err(SecretError::MissingEnv {
                    what,
                    var: name.clone(),
                }),
                Err(std::env::VarError::NotUnicode(_)) => Err(SecretError::NotUnicodeEnv {
                    what,
                    var: name.clone(),
                }),
            },
            SecretSource::File(path) => match std::fs::read(path) {
                Ok(bytes) => {
                    let text = String::from_utf8(bytes).map_err(|_| SecretError::NotUtf8File {
                        what: what.clone(),
                        path: path.clone(),
                    })?;
                    let trimmed = text.trim();
                    if trimmed.is_empty() {
                        Err(SecretError::EmptyFile {
                            what,
                            path: path.clone(),
                        })
                    } else {
                        Ok(SecretString::new(trimmed.to_string()))
                    }
                }
                Err(e) => Err(SecretError::UnreadableFile {
                    what,
                    path: path.clone(),
                    reason: e.kind().to_string(),
                }),
            },
            SecretSource::Value(v) => Ok(v.clone()),
        }
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl fmt::Debug for SecretSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Env(name) => f.debug_tuple("Env").field(name).finish(),
            Self::File(path) => f.debug_tuple("File").field(path).finish(),
            Self::Value(_) => f.write_str("Value(***)"),
        }
    }
}

/// A resolved secret value. `Debug` and `Display` print `SecretString(***)`; call
/// [`SecretString::expose`] at the single point where the value is needed (signing a request).
#[derive(Clone, PartialEq, Eq)]
pub struct SecretString(String);

impl SecretString {
    /// Wraps a value.
    pub fn new(value: String) -> Self {
        Self(value)
    }

    /// The value. Keep the borrow short and never log it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretString(***)")
    }
}

impl fmt::Display for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretString(***)")
    }
}

/// Why a secret could not be resolved. Messages name the variable or file, never a value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    /// The environment variable is not set.
    #[error("{what}: environment variable `{var}` is not set")]
    MissingEnv {
        /// What the secret is for.
        what: String,
        /// The variable.
        var: String,
    },
    /// The environment variable is set but empty.
    #[error("{what}: environment variable `{var}` is empty")]
    EmptyEnv {
        /// What the secret is for.
        what: String,
        /// The variable.
        var: String,
    },
    /// The environment variable is not valid Unicode.
    #[error("{what}: environment variable `{var}` is not valid unicode")]
    NotUnicodeEnv {
        /// What the secret is for.
        what: String,
        /// The variable.
        var: String,
    },
    /// The file could not be read.
    #[error("{what}: cannot read secret file `{}`: {reason}", path.display())]
    UnreadableFile {
        /// What the secret is for.
        what: String,
        /// The file.
        path: PathBuf,
        /// The I/O error kind.
        reason: String,
    },
    /// The file is empty (or only whitespace).
    #[error("{what}: secret file `{}` is empty", path.display())]
    EmptyFile {
        /// What the secret is for.
        what: String,
        /// The file.
        path: PathBuf,
    },
    /// The file is not UTF-8 text.
    #[error("{what}: secret file `{}` is not utf-8 text", path.display())]
    NotUtf8File {
        /// What the secret is for.
        what: String,
        /// The file.
        path: PathBuf,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_prints_the_value() {
        let s = Secret::value("hunter2").with_label("token");
        assert_eq!(format!("{s:?} {s}"), "Secret(***) Secret(***)");
        let r = s.resolve().unwrap();
        assert_eq!(format!("{r:?} {r}"), "SecretString(***) SecretString(***)");
        assert_eq!(r.expose(), "hunter2");
        assert!(!format!("{:?}", s.source()).contains("hunter2"));
    }

    #[test]
    fn file_secret_is_trimmed_and_errors_name_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token");
        std::fs::write(&path, "abc123\n").unwrap();
        assert_eq!(Secret::file(&path).resolve().unwrap().expose(), "abc123");

        let missing = dir.path().join("nope");
        let err = Secret::file(&missing)
            .with_label("netsuite.token_secret")
            .resolve()
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("netsuite.token_secret: cannot read secret file"));
        assert!(err.contains("nope"));
    }

    #[test]
    fn missing_env_names_the_variable() {
        let err = Secret::env("WEFT_TEST_SURELY_UNSET_VARIABLE_42")
            .with_label("shopify.access_token")
            .resolve()
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "shopify.access_token: environment variable `WEFT_TEST_SURELY_UNSET_VARIABLE_42` is not set"
        );
    }
}
