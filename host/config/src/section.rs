//! A store's systems: `[systems.<name>]` sections, each read by the platform it names.
//!
//! `weft-config` knows no platform. The host registers one [`PlatformSection`] per platform
//! (`host/cli/src/platforms.rs`); the loader hands each system's table to its platform's section
//! reader through a [`Section`], which reports every problem with file, line and a hint exactly
//! as the rest of the loader does. What a platform reads is kept as its own typed
//! [`SystemSettings`], which the registration point turns into a running connection.

use std::any::Any;
use std::fmt;
use std::ops::Range;
use std::sync::Arc;

use toml::de::DeValue;
use url::Url;

use crate::load::{Cx, Tbl};
use crate::secret::Secret;

/// One platform's config section: what `[systems.<name>]` with `platform = "<platform>"` may
/// hold, and how it is validated.
pub trait PlatformSection: Send + Sync {
    /// The platform's name, the value of `platform = "..."`.
    fn platform(&self) -> &'static str;

    /// Reads one system's section. Every problem is reported through `section` (unknown keys
    /// too: call [`Section::keys`]); `None` when there was one.
    fn read(&self, section: &mut Section<'_, '_, '_, '_>) -> Option<Arc<dyn SystemSettings>>;
}

/// What a platform read from one system's section: its typed settings.
pub trait SystemSettings: fmt::Debug + Send + Sync + 'static {
    /// The secret references the section holds (checked by `weft check`, resolved at start).
    fn secrets(&self) -> Vec<&Secret>;

    /// The settings as `Any`, for the platform's registration to downcast.
    fn as_any(&self) -> &dyn Any;

    /// Whether `other` holds the same settings (for `PartialEq` of configs).
    fn same_as(&self, other: &dyn SystemSettings) -> bool;
}

/// One system of a store: a named connection to a platform.
#[derive(Debug, Clone)]
pub struct SystemConfig {
    /// The system's name: unique in the store, used in webhook URLs
    /// (`/webhooks/<system>/<store>`), field owners and plugin commands.
    pub name: String,
    /// The platform it connects to.
    pub platform: String,
    /// What the platform read from the section.
    pub settings: Arc<dyn SystemSettings>,
}

impl SystemConfig {
    /// The settings as the platform's own type, when they are of that type.
    pub fn settings<T: 'static>(&self) -> Option<&T> {
        self.settings.as_any().downcast_ref::<T>()
    }
}

impl PartialEq for SystemConfig {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
            && self.platform == other.platform
            && self.settings.same_as(other.settings.as_ref())
    }
}

/// Where a value was written in its file (opaque: for [`Section::error`]).
#[derive(Debug, Clone)]
pub struct Span(pub(crate) Range<usize>);

/// A value that must be unique across every system of every store (a shop domain), or that
/// must agree among every system sharing a scope (an account's concurrency limit).
#[derive(Debug, Clone)]
pub(crate) enum Claim {
    Unique {
        platform: &'static str,
        what: String,
        value: String,
        hint: String,
        span: Range<usize>,
    },
    Agree {
        platform: &'static str,
        scope: String,
        key: String,
        value: String,
        hint: String,
        span: Range<usize>,
    },
}

/// One system's table as its platform reads it. Each method reports its own problems (wrong
/// type, missing, invalid) at the value's line with a hint, and returns `None` after one.
pub struct Section<'r, 'a, 't, 'i> {
    pub(crate) cx: &'r mut Cx<'a>,
    pub(crate) tbl: &'r Tbl<'t, 'i>,
    pub(crate) store: &'r str,
    pub(crate) system: &'r str,
    pub(crate) platform: &'static str,
    pub(crate) claims: &'r mut Vec<(usize, Claim)>,
    pub(crate) file: usize,
}

impl Section<'_, '_, '_, '_> {
    /// The table's name as errors show it, e.g. `[systems.shop-eu]`.
    pub fn name(&self) -> String {
        self.tbl.name()
    }

    /// The system's name.
    pub fn system(&self) -> &str {
        self.system
    }

    /// The store's id.
    pub fn store(&self) -> &str {
        self.store
    }

    /// Reports every key not in `known` (`platform` is always known) with a "did you mean".
    pub fn keys(&mut self, known: &[&str]) {
        let mut all: Vec<&str> = known.to_vec();
        all.push("platform");
        self.cx.check_keys(self.tbl, &all);
    }

    /// Whether the key is present.
    pub fn has(&self, key: &str) -> bool {
        self.tbl.get(key).is_some()
    }

    /// Where the key's value is written.
    pub fn span_of(&self, key: &str) -> Option<Span> {
        self.tbl.get(key).map(|v| Span(v.span()))
    }

    /// Reports a problem at `span`.
    pub fn error(&mut self, span: &Span, message: impl Into<String>, hint: impl Into<String>) {
        let hint: String = hint.into();
        self.cx.err(
            span.0.clone(),
            message.into(),
            (!hint.is_empty()).then_some(hint),
        );
    }

    /// An optional string.
    pub fn string(&mut self, key: &str, example: &str) -> Option<(String, Span)> {
        self.cx
            .string(self.tbl, key, example)
            .map(|(s, r)| (s, Span(r)))
    }

    /// A required string.
    pub fn string_req(&mut self, key: &str, example: &str) -> Option<(String, Span)> {
        self.cx
            .string_req(self.tbl, key, example)
            .map(|(s, r)| (s, Span(r)))
    }

    /// An optional integer in `min..=max`.
    pub fn integer(&mut self, key: &str, min: u64, max: u64, example: &str) -> Option<(u64, Span)> {
        let span = self.span_of(key)?;
        self.cx
            .integer_with(self.tbl, key, min, max, example)
            .map(|n| (n, span))
    }

    /// An optional http(s) base URL (no credentials, query or fragment).
    pub fn url(&mut self, key: &str, example: &str) -> Option<Url> {
        self.cx.url(self.tbl, key, example)
    }

    /// A required secret reference (`{ env = "..." }` or `{ file = "..." }`).
    pub fn secret_req(&mut self, key: &str, env_example: &str) -> Option<Secret> {
        let label = self.label(key);
        self.cx.secret_req(self.tbl, key, &label, env_example)
    }

    /// A required, non-empty list of secret references (e.g. signing secrets in rotation: the
    /// current one first).
    pub fn secret_list_req(&mut self, key: &str, env_example: &str) -> Option<Vec<Secret>> {
        let example = format!("{key} = [{{ env = \"{env_example}\" }}]");
        let Some(v) = self.tbl.get(key) else {
            self.cx.missing(self.tbl, key, &example);
            return None;
        };
        match v.get_ref() {
            DeValue::Array(items) if items.is_empty() => {
                self.cx.err(
                    v.span(),
                    format!("`{key}` in {} is empty", self.tbl.name()),
                    Some(
                        "list the current secret first, then any previous one still in rotation"
                            .into(),
                    ),
                );
                None
            }
            DeValue::Array(items) => {
                let mut out = Vec::new();
                let mut ok = true;
                for (i, item) in items.iter().enumerate() {
                    let label = self.label(&format!("{key}[{i}]"));
                    match self.cx.secret_value(self.tbl, key, item, &label) {
                        Some(s) => out.push(s),
                        None => ok = false,
                    }
                }
                ok.then_some(out)
            }
            DeValue::Table(_) => {
                self.cx
                    .type_err(self.tbl, key, v, "an array of secret references", &example);
                None
            }
            _ => {
                // A string is a secret written inline: report it as such, never echo it.
                let label = self.label(key);
                self.cx.secret_value(self.tbl, key, v, &label);
                None
            }
        }
    }

    /// An optional boolean.
    pub fn boolean(&mut self, key: &str, example: &str) -> Option<bool> {
        self.cx.boolean(self.tbl, key, example)
    }

    /// An optional list of strings, with where each item is written (for item-level errors).
    pub fn string_list(&mut self, key: &str, example: &str) -> Option<Vec<(String, Span)>> {
        let v = self.tbl.get(key)?;
        match v.get_ref() {
            DeValue::Array(items) => {
                let mut out = Vec::with_capacity(items.len());
                for item in items.iter() {
                    match item.get_ref() {
                        DeValue::String(s) => out.push((s.to_string(), Span(item.span()))),
                        _ => {
                            self.cx
                                .type_err(self.tbl, key, item, "a list of strings", example);
                            return None;
                        }
                    }
                }
                Some(out)
            }
            _ => {
                self.cx
                    .type_err(self.tbl, key, v, "a list of strings", example);
                None
            }
        }
    }

    /// The length of an array value, when the key holds an array.
    pub fn array_len(&self, key: &str) -> Option<usize> {
        match self.tbl.get(key)?.get_ref() {
            DeValue::Array(items) => Some(items.len()),
            _ => None,
        }
    }

    /// `value` must not be configured for another system of this platform, in this store or
    /// another (`what` names it in the error, e.g. "shop").
    pub fn claim_unique(&mut self, what: &str, value: &str, span: &Span, hint: &str) {
        self.claims.push((
            self.file,
            Claim::Unique {
                platform: self.platform,
                what: what.to_owned(),
                value: value.to_owned(),
                hint: hint.to_owned(),
                span: span.0.clone(),
            },
        ));
    }

    /// Every system of this platform within `scope` (e.g. "NetSuite account `123`") must give
    /// `key` the same value.
    pub fn claim_agreeing(&mut self, scope: &str, key: &str, value: &str, span: &Span, hint: &str) {
        self.claims.push((
            self.file,
            Claim::Agree {
                platform: self.platform,
                scope: scope.to_owned(),
                key: key.to_owned(),
                value: value.to_owned(),
                hint: hint.to_owned(),
                span: span.0.clone(),
            },
        ));
    }

    fn label(&self, key: &str) -> String {
        format!("{}.{key} of store `{}`", self.tbl.path, self.store)
    }
}
