//! Loading real files: each kind of bad config gives its own clear message with file, line and
//! hint; every problem in every file is reported at once; the starter config round-trips; and
//! no secret value is ever printed.

use std::path::PathBuf;

use weft::platforms::load_config as load;
use weft_config::{
    ChangeAction, ConflictPolicy, Diagnostic, Diagnostics, LogFormat, PluginSource, SecretSource,
    StockConfig, StockOwnerConfig, StorageConfig, StoreConfig, init,
};
use weft_netsuite::config::NetSuiteSettings;
use weft_shopify::config::ShopifySettings;

fn shopify(s: &StoreConfig) -> &ShopifySettings {
    s.system("shopify").unwrap().settings().unwrap()
}

fn netsuite(s: &StoreConfig) -> &NetSuiteSettings {
    s.system("netsuite").unwrap().settings().unwrap()
}

const HOST: &str = "stores_dir = \"stores\"\n";

/// A minimal valid store file for `id`.
fn store(id: &str) -> String {
    format!(
        r#"[store]
id = "{id}"

[shopify]
shop = "{id}.myshopify.com"
access_token = {{ env = "T_{id}" }}
webhook_secrets = [{{ env = "W_{id}" }}]

[netsuite]
account_id = "123456"
consumer_key = {{ env = "CK" }}
consumer_secret = {{ env = "CS" }}
token_id = {{ env = "TI" }}
token_secret = {{ env = "TS" }}
"#
    )
}

/// Writes `weft.toml` and the given store files into a temp dir.
fn setup(host: &str, stores: &[(&str, &str)]) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("stores")).unwrap();
    std::fs::write(dir.path().join("weft.toml"), host).unwrap();
    for (name, text) in stores {
        std::fs::write(dir.path().join("stores").join(name), text).unwrap();
    }
    let host = dir.path().join("weft.toml");
    (dir, host)
}

fn errors(host: &str, stores: &[(&str, &str)]) -> Diagnostics {
    let (_dir, path) = setup(host, stores);
    match load(&path) {
        Ok(c) => panic!("expected errors, loaded {c:?}"),
        Err(d) => d,
    }
}

/// The single diagnostic of a config with exactly one problem.
fn only(d: &Diagnostics) -> &Diagnostic {
    assert_eq!(d.len(), 1, "expected one problem, got:\n{d}");
    d.iter().next().unwrap()
}

fn file_name(d: &Diagnostic) -> String {
    d.file.file_name().unwrap().to_string_lossy().into_owned()
}

fn replace(text: &str, from: &str, to: &str) -> String {
    assert!(text.contains(from), "{from:?} not in test input");
    text.replacen(from, to, 1)
}

#[test]
fn valid_config_loads_with_defaults_and_resolved_paths() {
    let (dir, host) = setup(
        HOST,
        &[("acme.toml", &store("acme")), ("beta.toml", &store("beta"))],
    );
    let c = load(&host).unwrap();
    assert_eq!(c.stores.len(), 2);
    let acme = c.store("acme").unwrap();
    assert_eq!(acme.name, "acme");
    assert!(acme.enabled);
    assert_eq!(
        shopify(acme).base_url.as_str(),
        "https://acme.myshopify.com/"
    );
    assert_eq!(shopify(acme).api_version, "2025-10");
    assert_eq!(
        netsuite(acme).base_url.as_str(),
        "https://123456.suitetalk.api.netsuite.com/"
    );
    assert_eq!(netsuite(acme).concurrency_limit, None);
    assert_eq!(acme.plugins.mapper.to_string(), "builtin:shopify-netsuite");
    assert_eq!(acme.limits, c.runtime.limits);
    assert_eq!(acme.schedule.reconcile_interval.as_secs(), 300);
    assert_eq!(
        c.storage,
        StorageConfig::Sqlite {
            path: dir.path().join("weft.db")
        }
    );
    assert_eq!(c.runtime.cache_dir, dir.path().join(".weft/cache"));
    assert_eq!(acme.file, dir.path().join("stores/acme.toml"));
    assert!(matches!(
        shopify(acme).access_token.source(),
        SecretSource::Env(v) if v == "T_acme"
    ));
}

#[test]
fn full_store_file_is_typed() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("s/plugins")).unwrap();
    std::fs::write(dir.path().join("s/plugins/map.wasm"), b"\0asm").unwrap();
    let text = r#"
[store]
id = "acme_2"
name = "Acme Two"
enabled = false

[shopify]
shop = "acme-2.myshopify.com"
base_url = "http://127.0.0.1:9001"
api_version = "2026-01"
access_token = { file = "secrets/token" }
webhook_secrets = [{ env = "NEW" }, { env = "OLD" }]
location_ids = []

[netsuite]
account_id = "1234567_SB1"
consumer_key = { env = "CK" }
consumer_secret = { env = "CS" }
token_id = { env = "TI" }
token_secret = { env = "TS" }
concurrency_limit = 15

[plugins]
mapper = "plugins/map.wasm"
resolver = "builtin:system-of-record"
[plugins.resolvers]
"inventory-level.quantity" = "builtin:counter-merge"
[plugins.config]
sku_prefix = "WEB-"
weights = [1, 2.5]
nested = { on = true }

[policy]
default = "prefer-shopify"
"price.price" = "netsuite"
product.title = "shopify"
"customer.*" = "netsuite"

[limits]
timeout_ms = 5000
fuel = 0

[schedule]
reconcile_interval = "1m30s"
cdc_interval = "10s"
full_resync_cron = "*/30 1-5 * * mon-fri"
quiet_hours = "22:00-06:00"
cdc_overlap = "0s"
poll_overlap = "250ms"
"#;
    std::fs::write(dir.path().join("s/acme.toml"), text).unwrap();
    std::fs::write(
        dir.path().join("weft.toml"),
        r#"stores = ["s/acme.toml"]
[server]
listen = "0.0.0.0:9090"
[storage]
url = { env = "DATABASE_URL" }
[runtime.limits]
memory_mb = 128
[log]
level = "info,weft_runtime=debug"
format = "json"
"#,
    )
    .unwrap();
    let c = load(dir.path().join("weft.toml")).unwrap();
    assert_eq!(c.server.listen.to_string(), "0.0.0.0:9090");
    assert!(matches!(c.storage, StorageConfig::Postgres { .. }));
    assert_eq!(c.log.format, LogFormat::Json);
    let s = &c.stores[0];
    assert_eq!(
        (s.id.as_str(), s.name.as_str(), s.enabled),
        ("acme_2", "Acme Two", false)
    );
    assert_eq!(shopify(s).base_url.as_str(), "http://127.0.0.1:9001/");
    assert_eq!(shopify(s).webhook_secrets.len(), 2);
    assert!(matches!(
        shopify(s).access_token.source(),
        SecretSource::File(p) if *p == dir.path().join("s/secrets/token")
    ));
    assert_eq!(
        netsuite(s).base_url.as_str(),
        "https://1234567-sb1.suitetalk.api.netsuite.com/"
    );
    assert_eq!(netsuite(s).realm(), "1234567_SB1");
    assert_eq!(netsuite(s).concurrency_limit, Some(15));
    assert_eq!(
        s.plugins.mapper.source,
        PluginSource::File(dir.path().join("s/plugins/map.wasm"))
    );
    assert_eq!(s.plugins.mapper.origin.as_ref().unwrap().line, 24);
    let rules: Vec<(String, String)> = s
        .plugins
        .resolver_rules()
        .into_iter()
        .map(|(p, r)| (p, r.to_string()))
        .collect();
    assert_eq!(
        rules,
        [
            ("*".to_string(), "builtin:system-of-record".to_string()),
            (
                "inventory-level.quantity".to_string(),
                "builtin:counter-merge".to_string()
            )
        ]
    );
    assert_eq!(s.policy.default, ConflictPolicy::Prefer("shopify".into()));
    assert_eq!(s.policy.owners["customer.*"], "netsuite");
    assert_eq!(s.policy.owners["price.price"], "netsuite");
    assert_eq!(s.policy.owners["product.title"], "shopify");
    assert_eq!(s.limits.timeout_ms, 5000);
    assert_eq!(s.limits.fuel, None);
    assert_eq!(
        s.limits.memory_mb, 128,
        "host default applies where the store sets nothing"
    );
    assert_eq!(s.schedule.reconcile_interval.as_millis(), 90_000);
    assert_eq!(s.schedule.poll_overlap.as_millis(), 250);
    assert_eq!(s.schedule.quiet_hours.unwrap().to_string(), "22:00-06:00");
    let pc = serde_json::Value::Object(s.plugin_config());
    assert_eq!(
        pc,
        serde_json::json!({
            "sku_prefix": "WEB-",
            "weights": [1, 2.5],
            "nested": { "on": true },
            "owners": { "*": "shopify", "customer.*": "netsuite", "price.price": "netsuite",
                        "product.title": "shopify" }
        })
    );
}

#[test]
fn unknown_key_suggests_the_closest_name() {
    let text = replace(&store("acme"), "[shopify]", "[shopfy]");
    let d = errors(HOST, &[("acme.toml", &text)]);
    // The misspelling is reported once, not again as a missing `[shopify]`.
    let first = only(&d);
    assert_eq!(first.message, "unknown table `[shopfy]`");
    assert_eq!(file_name(first), "acme.toml");
    assert_eq!((first.line, first.column), (4, 2));
    assert_eq!(first.hint.as_deref(), Some("did you mean `shopify`?"));
    // A table name too far off to be a typo: both problems are reported.
    let text = replace(&store("acme"), "[shopify]", "[storefront]");
    let d = errors(HOST, &[("acme.toml", &text)]);
    assert_eq!(d.len(), 2, "{d}");
    let v: Vec<&Diagnostic> = d.iter().collect();
    assert_eq!(
        v[0].message,
        "store `acme` lists one system (`netsuite`); a store syncs two or more"
    );
    assert!(
        v[0].hint
            .as_deref()
            .is_some_and(|h| h.contains("[systems.<name>] with `platform = \"<platform>\"`")),
        "the error shows the new form: {:?}",
        v[0].hint
    );
    assert_eq!(v[1].message, "unknown table `[storefront]`");

    let text = replace(
        &store("acme"),
        "id = \"acme\"",
        "id = \"acme\"\nenabeld = true",
    );
    let d = errors(HOST, &[("acme.toml", &text)]);
    let e = only(&d);
    assert_eq!(e.message, "unknown key `enabeld` in [store]");
    assert_eq!((e.line, e.column), (3, 1));
    assert_eq!(e.hint.as_deref(), Some("did you mean `enabled`?"));
    let shown = d.to_string();
    assert!(
        shown.contains(
            "error: unknown key `enabeld` in [store]\n --> "
        ) && shown.contains("acme.toml:3:1\n  |\n3 | enabeld = true\n  | ^^^^^^^\n  = hint: did you mean `enabled`?"),
        "{shown}"
    );
}

#[test]
fn wrong_type_names_expected_and_found() {
    let d = errors(
        "[runtime.limits]\ntimeout_ms = \"2s\"\n",
        &[("acme.toml", &store("acme"))],
    );
    let e = only(&d);
    assert_eq!(
        e.message,
        "`timeout_ms` in [runtime.limits] must be an integer, found a string"
    );
    assert_eq!(
        (file_name(e).as_str(), e.line, e.column),
        ("weft.toml", 2, 14)
    );
    assert_eq!(
        e.hint.as_deref(),
        Some("for example: timeout_ms = 2000 (milliseconds)")
    );
}

#[test]
fn inline_secret_is_rejected_without_echoing_it() {
    let text = replace(
        &store("acme"),
        "access_token = { env = \"T_acme\" }",
        "access_token = \"shpat_TOPSECRET123\"",
    );
    let d = errors(HOST, &[("acme.toml", &text)]);
    let e = only(&d);
    assert_eq!(
        e.message,
        "`access_token` in [shopify] is a secret written inline"
    );
    assert_eq!((e.line, e.column), (6, 16));
    assert_eq!(
        e.hint.as_deref(),
        Some("secrets must be references: use { env = \"...\" } or { file = \"...\" }")
    );
    let shown = format!("{d}\n{d:?}");
    assert!(!shown.contains("TOPSECRET"), "{shown}");

    let text = replace(
        &store("acme"),
        "webhook_secrets = [{ env = \"W_acme\" }]",
        "webhook_secrets = [\"whsec_TOPSECRET\"]",
    );
    let d = errors(HOST, &[("acme.toml", &text)]);
    assert_eq!(
        only(&d).message,
        "`webhook_secrets` in [shopify] is a secret written inline"
    );
    assert!(!format!("{d}{d:?}").contains("TOPSECRET"));

    // A misspelt secret key with an inline value is reported without echoing the line.
    let text = replace(
        &store("acme"),
        "token_id = { env = \"TI\" }",
        "token_id = { env = \"TI\" }\ntoken_secrte = \"TOPSECRET\"",
    );
    let d = errors(HOST, &[("acme.toml", &text)]);
    assert!(
        d.iter()
            .any(|x| x.message == "unknown key `token_secrte` in [netsuite]"),
        "{d}"
    );
    assert!(!format!("{d}{d:?}").contains("TOPSECRET"));

    // A syntax error on the line of an inline secret does not echo it either.
    let text = replace(
        &store("acme"),
        "access_token = { env = \"T_acme\" }",
        "access_token = \"TOPSECRET\" x",
    );
    let d = errors(HOST, &[("acme.toml", &text)]);
    assert!(
        d.iter().all(|x| x.message.starts_with("invalid TOML")),
        "{d}"
    );
    let shown = format!("{d}");
    assert!(!shown.contains("TOPSECRET"), "{shown}");
    assert!(shown.contains("access_token = \"*********\" x"), "{shown}");

    let d = errors(
        "[storage]\nurl = \"postgres://weft:TOPSECRET@db/weft\"\n",
        &[("acme.toml", &store("acme"))],
    );
    assert_eq!(
        only(&d).message,
        "`url` in [storage] has a password written inline"
    );
    assert!(!format!("{d}{d:?}").contains("TOPSECRET"));
}

#[test]
fn bad_duration_says_why_and_how() {
    let text = format!(
        "{}\n[schedule]\nreconcile_interval = \"5 minutes\"\n",
        store("acme")
    );
    let d = errors(HOST, &[("acme.toml", &text)]);
    let e = only(&d);
    assert_eq!(
        e.message,
        "invalid duration `5 minutes` for `reconcile_interval` in [schedule]: unknown unit `minutes`"
    );
    assert_eq!((e.line, e.column), (17, 22));
    assert!(e.hint.as_deref().unwrap().contains("`5m`"));
}

#[test]
fn bad_cron_and_quiet_hours() {
    let text = format!(
        "{}\n[schedule]\nfull_resync_cron = \"0 25 * * *\"\nquiet_hours = \"1am-5am\"\n",
        store("acme")
    );
    let d = errors(HOST, &[("acme.toml", &text)]);
    assert_eq!(d.len(), 2, "{d}");
    let v: Vec<&Diagnostic> = d.iter().collect();
    assert_eq!(
        v[0].message,
        "invalid cron expression `0 25 * * *` for `full_resync_cron` in [schedule]: hour `25` is out of range (allowed 0-23)"
    );
    assert_eq!(v[0].line, 17);
    assert!(
        v[0].hint
            .as_deref()
            .unwrap()
            .contains("minute hour day-of-month month day-of-week")
    );
    assert!(
        v[1].message
            .starts_with("invalid quiet hours `1am-5am` in [schedule]")
    );
    assert_eq!(v[1].line, 18);
}

#[test]
fn bad_url() {
    let text = replace(
        &store("acme"),
        "shop = \"acme.myshopify.com\"",
        "shop = \"acme.myshopify.com\"\nbase_url = \"ftp://example.com\"",
    );
    let d = errors(HOST, &[("acme.toml", &text)]);
    let e = only(&d);
    assert_eq!(
        e.message,
        "invalid URL for `base_url` in [shopify]: `ftp://example.com`: scheme must be `http` or `https`"
    );
    assert_eq!((e.line, e.column), (6, 12));

    let text = replace(
        &store("acme"),
        "account_id = \"123456\"",
        "account_id = \"123456\"\nbase_url = \"not a url\"",
    );
    let d = errors(HOST, &[("acme.toml", &text)]);
    assert!(
        only(&d)
            .message
            .starts_with("invalid URL for `base_url` in [netsuite]: `not a url`")
    );
}

#[test]
fn missing_required_key_points_at_its_table() {
    let text = replace(&store("acme"), "shop = \"acme.myshopify.com\"\n", "");
    let d = errors(HOST, &[("acme.toml", &text)]);
    let e = only(&d);
    assert_eq!(e.message, "missing required key `shop` in [shopify]");
    assert_eq!((e.line, e.column), (4, 1));
    assert_eq!(
        e.hint.as_deref(),
        Some("add `shop = \"acme.myshopify.com\"`")
    );

    let text = replace(&store("acme"), "token_secret = { env = \"TS\" }\n", "");
    let d = errors(HOST, &[("acme.toml", &text)]);
    assert_eq!(
        only(&d).message,
        "missing required key `token_secret` in [netsuite]"
    );
}

#[test]
fn forbidden_characters_in_store_id() {
    let text = replace(&store("acme"), "id = \"acme\"", "id = \"Acme Store\"");
    let d = errors(HOST, &[("acme.toml", &text)]);
    let e = only(&d);
    assert_eq!(
        e.message,
        "store id `Acme Store` contains the forbidden character 'A'"
    );
    assert_eq!((e.line, e.column), (2, 6));
    assert!(e.hint.as_deref().unwrap().contains("(e.g. `acme-store`)"));
}

#[test]
fn duplicate_store_id_across_files() {
    let d = errors(
        HOST,
        &[
            ("a.toml", &store("acme")),
            (
                "b.toml",
                &replace(&store("acme"), "shop = \"acme.", "shop = \"other."),
            ),
        ],
    );
    let e = only(&d);
    assert_eq!(e.message, "duplicate store id `acme`");
    assert_eq!((file_name(e).as_str(), e.line), ("b.toml", 2));
    assert!(e.notes[0].starts_with("first defined at "), "{:?}", e.notes);
    assert!(e.notes[0].ends_with("a.toml:2:6"), "{:?}", e.notes);
}

#[test]
fn unknown_field_owner_system() {
    let text = format!(
        "{}\n[policy]\n\"price.price\" = \"sap\"\n\"prices.x\" = \"netsuite\"\n",
        store("acme")
    );
    let d = errors(HOST, &[("acme.toml", &text)]);
    assert_eq!(d.len(), 2, "{d}");
    let v: Vec<&Diagnostic> = d.iter().collect();
    assert_eq!(
        v[0].message,
        "unknown system `sap` as owner of `price.price` in [policy]"
    );
    assert_eq!((v[0].line, v[0].column), (17, 17));
    assert_eq!(
        v[0].hint.as_deref(),
        Some("expected one of `shopify` or `netsuite`")
    );
    assert_eq!(
        v[1].message,
        "unknown entity kind `prices` in field `prices.x` in [policy]"
    );
    assert_eq!(v[1].hint.as_deref(), Some("did you mean `price`?"));
}

#[test]
fn stock_owner_and_buffer() {
    let (_dir, path) = setup(
        HOST,
        &[(
            "acme.toml",
            &format!(
                "{}\n[stock]\nowner = \"shopify\"\nbuffer = 3\n",
                store("acme")
            ),
        )],
    );
    let c = load(&path).unwrap();
    let s = &c.stores[0];
    assert_eq!(s.stock.owner, StockOwnerConfig::System("shopify".into()));
    assert_eq!(s.stock.buffer, 3);
    let (_dir, path) = setup(HOST, &[("acme.toml", &store("acme"))]);
    assert_eq!(load(&path).unwrap().stores[0].stock, StockConfig::default());
    let (_dir, path) = setup(
        HOST,
        &[(
            "acme.toml",
            &format!("{}\n[stock]\nowner = \"none\"\n", store("acme")),
        )],
    );
    assert_eq!(
        load(&path).unwrap().stores[0].stock.owner,
        StockOwnerConfig::None
    );

    let text = format!("{}\n[stock]\nowner = \"sap\"\nbufer = 2\n", store("acme"));
    let d = errors(HOST, &[("acme.toml", &text)]);
    assert_eq!(d.len(), 2, "{d}");
    let v: Vec<&Diagnostic> = d.iter().collect();
    assert!(
        v.iter().any(|d| d.message == "[stock] owner `sap` is not a system of this store"
            && d.hint.as_deref()
                == Some("name one of `shopify` or `netsuite`, or `none` to count every system's stock changes")),
        "{d}"
    );
    assert!(
        v.iter()
            .any(|d| d.hint.as_deref() == Some("did you mean `buffer`?")),
        "{d}"
    );
    let text = format!("{}\n[stock]\nbuffer = -1\n", store("acme"));
    let d = errors(HOST, &[("acme.toml", &text)]);
    assert!(
        only(&d)
            .message
            .contains("`buffer` in [stock] must be between 0 and 1000000"),
        "{d}"
    );
}

#[test]
fn every_problem_in_every_file_is_reported_at_once() {
    let host =
        "stores_dir = \"stores\"\n[server]\nlisten = \"localhost\"\n[log]\nformat = \"yaml\"\n";
    let a = replace(
        &store("a"),
        "[shopify]",
        "[shopify]\napi_version = \"2025-13\"",
    );
    let b = format!(
        "{}\n[schedule]\ncdc_overlap = \"2\"\n",
        replace(
            &store("b"),
            "token_id = { env = \"TI\" }",
            "token_id = \"plain\""
        )
    );
    let c = "[store\nid = 1\n";
    let d = errors(host, &[("a.toml", &a), ("b.toml", &b), ("c.toml", c)]);
    let got: Vec<(String, usize, &str)> = d
        .iter()
        .map(|x| (file_name(x), x.line, x.message.as_str()))
        .collect();
    let files: Vec<&str> = got.iter().map(|(f, _, _)| f.as_str()).collect();
    assert_eq!(
        files,
        [
            "weft.toml",
            "weft.toml",
            "a.toml",
            "b.toml",
            "b.toml",
            "c.toml"
        ],
        "{d}"
    );
    assert!(got[0].2.starts_with("invalid listen address `localhost`"));
    assert!(got[1].2.starts_with("unknown log format `yaml`"));
    assert!(
        got[2]
            .2
            .starts_with("invalid Shopify API version `2025-13`")
    );
    assert!(got[3].2.contains("secret written inline"));
    assert!(got[4].2.contains("missing unit"));
    assert!(got[5].2.starts_with("invalid TOML"));
    let shown = d.to_string();
    assert!(
        shown.ends_with("error: configuration has 6 problems"),
        "{shown}"
    );
}

#[test]
fn stores_dir_missing_and_plugin_file_missing() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("weft.toml"), "stores_dir = \"nope\"\n").unwrap();
    let d = load(dir.path().join("weft.toml")).unwrap_err();
    let e = only(&d);
    assert!(
        e.message.starts_with("cannot read store directory"),
        "{}",
        e.message
    );
    assert_eq!(e.line, 1);

    let text = format!("{}\n[plugins]\nmapper = \"missing.wasm\"\n", store("acme"));
    let d = errors(HOST, &[("acme.toml", &text)]);
    let e = only(&d);
    assert!(e.message.starts_with("plugin file `"), "{}", e.message);
    assert!(
        e.message
            .ends_with("missing.wasm` for `mapper` does not exist")
    );
    assert_eq!(e.line, 17);
}

#[test]
fn conflicting_concurrency_limits_on_one_account() {
    let a = replace(
        &store("a"),
        "account_id = \"123456\"",
        "account_id = \"123456\"\nconcurrency_limit = 15",
    );
    let b = replace(
        &store("b"),
        "account_id = \"123456\"",
        "account_id = \"123456\"\nconcurrency_limit = 10",
    );
    let d = errors(HOST, &[("a.toml", &a), ("b.toml", &b)]);
    let e = only(&d);
    assert_eq!(
        e.message,
        "NetSuite account `123456` has concurrency_limit 10 here but 15 elsewhere"
    );
    assert_eq!(file_name(e), "b.toml");
}

#[test]
fn unreadable_host_file_is_one_diagnostic() {
    let d = load("/definitely/not/here/weft.toml").unwrap_err();
    let e = only(&d);
    assert_eq!(e.line, 0);
    assert!(
        e.message
            .starts_with("cannot read `/definitely/not/here/weft.toml`")
    );
}

#[test]
fn starter_config_loads_cleanly_and_init_never_overwrites() {
    let dir = tempfile::tempdir().unwrap();
    let written = init(dir.path()).unwrap();
    assert_eq!(
        written,
        [
            dir.path().join("weft.toml"),
            dir.path().join("stores/acme.toml")
        ]
    );
    let c = load(dir.path().join("weft.toml")).unwrap_or_else(|d| panic!("{d}"));
    let acme = c.store("acme").unwrap();
    assert_eq!(acme.policy.owners["price.price"], "netsuite");
    assert_eq!(
        acme.plugins.resolvers["inventory-level.quantity"].to_string(),
        "builtin:counter-merge"
    );
    assert_eq!(
        acme.plugins.resolver.to_string(),
        "builtin:system-of-record"
    );
    assert_eq!(
        acme.plugin_config()["owners"]["*"],
        serde_json::json!("netsuite")
    );
    assert_eq!(c.runtime.limits, weft_config::PluginLimits::default());
    assert_eq!(acme.schedule, weft_config::ScheduleConfig::default());
    assert_eq!(c.server, weft_config::ServerConfig::default());
    // Secrets are references; each names one of the documented variables.
    for s in acme.secrets() {
        let SecretSource::Env(var) = s.source() else {
            panic!("{s:?}")
        };
        assert!(
            weft_config::STARTER_ENV_VARS.contains(&var.as_str()),
            "{var}"
        );
    }
    // Unset, they are reported at their line by `check_secrets`, naming the variable.
    let missing = c.check_secrets();
    assert_eq!(missing.len(), 6);
    let first = missing.iter().next().unwrap();
    assert!(
        first
            .message
            .contains("environment variable `ACME_SHOPIFY_ACCESS_TOKEN` is not set")
    );
    assert!(first.line > 0);

    let before = std::fs::read_to_string(dir.path().join("weft.toml")).unwrap();
    let err = init(dir.path()).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("refusing to overwrite existing")
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join("weft.toml")).unwrap(),
        before
    );
}

#[test]
fn no_secret_value_in_the_printed_config() {
    const VAR: &str = "WEFT_CFG_TEST_TOKEN_7D1C";
    const VALUE: &str = "ENV-SECRET-VALUE-1a2b";
    if std::env::var(VAR).is_err() {
        // `std::env::set_var` is unsafe in edition 2024 and the workspace forbids unsafe code:
        // re-run just this test in a child process with the variable set.
        let status = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "no_secret_value_in_the_printed_config",
                "--test-threads=1",
            ])
            .env(VAR, VALUE)
            .status()
            .unwrap();
        assert!(status.success(), "the child run with {VAR} set failed");
        return;
    }
    let (dir, host) = setup(HOST, &[]);
    std::fs::write(
        dir.path().join("stores/ns_token"),
        "FILE-SECRET-VALUE-9f8e\n",
    )
    .unwrap();
    let text = replace(
        &replace(
            &store("acme"),
            "access_token = { env = \"T_acme\" }",
            &format!("access_token = {{ env = \"{VAR}\" }}"),
        ),
        "token_secret = { env = \"TS\" }",
        "token_secret = { file = \"ns_token\" }",
    );
    std::fs::write(dir.path().join("stores/acme.toml"), text).unwrap();
    let c = load(&host).unwrap();
    let s = c.store("acme").unwrap();
    assert_eq!(shopify(s).access_token.resolve().unwrap().expose(), VALUE);
    let resolved = netsuite(s).token_secret.resolve().unwrap();
    assert_eq!(resolved.expose(), "FILE-SECRET-VALUE-9f8e");
    let printed = format!("{c:?}\n{c:#?}\n{resolved:?} {resolved}");
    assert!(!printed.contains("SECRET-VALUE"), "{printed}");
    assert!(printed.contains("Secret(***)"));
}

#[test]
fn resolver_follows_the_policy_and_mismatches_are_caught() {
    let with = |extra: &str| format!("{}\n{extra}", store("acme"));
    let resolver_of = |extra: &str| {
        let (_dir, host) = setup(HOST, &[("acme.toml", &with(extra))]);
        let c = load(&host).unwrap_or_else(|d| panic!("{d}"));
        c.stores[0].plugins.resolver.to_string()
    };
    assert_eq!(resolver_of(""), "builtin:last-write-wins");
    assert_eq!(
        resolver_of("[policy]\ndefault = \"counter-merge\"\n"),
        "builtin:counter-merge"
    );
    assert_eq!(
        resolver_of("[policy]\ndefault = \"prefer-netsuite\"\n\"product.title\" = \"shopify\"\n"),
        "builtin:system-of-record"
    );

    // Owners without a catch-all would fail every other conflict at run time.
    let d = errors(
        HOST,
        &[(
            "acme.toml",
            &with("[policy]\n\"price.price\" = \"netsuite\"\n"),
        )],
    );
    let e = only(&d);
    assert_eq!(
        e.message,
        "the `system-of-record` resolver needs an owner for every field, but [policy] has no catch-all"
    );
    assert_eq!(e.line, 16, "points at the [policy] header");

    // A resolver that ignores owners is named where it is configured.
    let d = errors(
        HOST,
        &[(
            "acme.toml",
            &with(
                "[plugins]\nresolver = \"builtin:last-write-wins\"\n[policy]\n\"*\" = \"netsuite\"\n",
            ),
        )],
    );
    let e = only(&d);
    assert_eq!(
        e.message,
        "the `last-write-wins` resolver ignores the field owners in [policy]"
    );
    assert_eq!(e.line, 17);

    // Owners in two places.
    let d = errors(
        HOST,
        &[(
            "acme.toml",
            &with("[plugins.config]\nowners = {}\n[policy]\ndefault = \"prefer-shopify\"\n"),
        )],
    );
    assert_eq!(
        only(&d).message,
        "`owners` in [plugins.config] clashes with the field owners in [policy]"
    );
}

#[test]
fn explicit_store_list() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("a")).unwrap();
    std::fs::write(dir.path().join("a/one.toml"), store("one")).unwrap();
    std::fs::write(
        dir.path().join("weft.toml"),
        "stores = [\"a/one.toml\", \"a/two.toml\"]\n",
    )
    .unwrap();
    let d = load(dir.path().join("weft.toml")).unwrap_err();
    let e = only(&d);
    assert!(
        e.message.starts_with("cannot read store file `"),
        "{}",
        e.message
    );
    assert!(e.message.contains("two.toml"));
    assert_eq!(
        (file_name(e).as_str(), e.line, e.column),
        ("weft.toml", 1, 25)
    );

    std::fs::write(
        dir.path().join("weft.toml"),
        "stores_dir = \"a\"\nstores = [\"a/one.toml\"]\n",
    )
    .unwrap();
    let d = load(dir.path().join("weft.toml")).unwrap_err();
    assert_eq!(
        only(&d).message,
        "set either `stores_dir` or `stores`, not both"
    );

    std::fs::write(dir.path().join("weft.toml"), "stores = [\"a/one.toml\"]\n").unwrap();
    let c = load(dir.path().join("weft.toml")).unwrap();
    assert_eq!(c.stores.len(), 1);
    assert_eq!(c.stores[0].file, dir.path().join("a/one.toml"));
}

#[test]
fn bad_resolver_patterns() {
    let text = format!(
        "{}\n[plugins.resolvers]\n\"*\" = \"builtin:counter-merge\"\n\"inventory.quantity\" = \"builtin:counter-merge\"\n\"price.price\" = \"nope.wasm\"\n",
        store("acme")
    );
    let d = errors(HOST, &[("acme.toml", &text)]);
    let got: Vec<&str> = d.iter().map(|x| x.message.as_str()).collect();
    assert_eq!(got.len(), 3, "{d}");
    assert_eq!(
        got[0],
        "the catch-all resolver goes in `resolver`, not [plugins.resolvers]"
    );
    assert_eq!(
        got[1],
        "unknown entity kind `inventory` in field `inventory.quantity` in [plugins.resolvers]"
    );
    assert!(got[2].starts_with("plugin file `"), "{}", got[2]);
}

#[test]
fn server_connection_limits_load_and_are_checked_with_their_line() {
    let host = "stores_dir = \"stores\"\n[server]\nlisten = \"127.0.0.1:8080\"\nops_listen = \"127.0.0.1:9090\"\nheader_read_timeout = \"2s\"\nidle_timeout = \"5s\"\nmax_connections = 100\nmax_connections_per_ip = 10\nshutdown_grace = \"3s\"\n";
    let (_dir, path) = setup(host, &[("a.toml", &store("a"))]);
    let c = load(&path).unwrap();
    let s = &c.server;
    assert_eq!(s.ops_listen.unwrap().to_string(), "127.0.0.1:9090");
    assert_eq!(s.header_read_timeout, std::time::Duration::from_secs(2));
    assert_eq!(s.idle_timeout, std::time::Duration::from_secs(5));
    assert_eq!((s.max_connections, s.max_connections_per_ip), (100, 10));
    assert_eq!(s.shutdown_grace, std::time::Duration::from_secs(3));

    let bad = "stores_dir = \"stores\"\n[server]\nops_listen = \"nine\"\nheader_read_timeout = \"10\"\nmax_connections = 10\nmax_connections_per_ip = 11\n";
    let d = errors(bad, &[("a.toml", &store("a"))]);
    let got: Vec<(usize, &str)> = d.iter().map(|x| (x.line, x.message.as_str())).collect();
    assert_eq!(
        got,
        [
            (3, "invalid ops_listen address `nine` in [server]"),
            (
                4,
                "invalid duration `10` for `header_read_timeout` in [server]: missing unit after `10`"
            ),
            (
                6,
                "`max_connections_per_ip` in [server] (11) is above `max_connections` (10)"
            ),
        ]
    );
}

#[test]
fn keys_that_would_be_ignored_are_refused_with_the_form_that_works() {
    // A location list was accepted and never applied: which locations sync is the mapper's.
    let text = replace(
        &store("acme"),
        "[shopify]\n",
        "[shopify]\nlocation_ids = [\"72471003\"]\n",
    );
    let d = errors(HOST, &[("acme.toml", &text)]);
    let e = only(&d);
    assert!(e.message.contains("`location_ids`"), "{}", e.message);
    assert!(
        e.hint
            .as_deref()
            .is_some_and(|h| h.contains("[plugins.config.locations]")),
        "{:?}",
        e.hint
    );
    // The empty list `weft init` used to write still loads.
    let text = replace(
        &store("acme"),
        "[shopify]\n",
        "[shopify]\nlocation_ids = []\n",
    );
    let (_dir, path) = setup(HOST, &[("acme.toml", &text)]);
    assert!(load(&path).is_ok());

    // The Wasm stack is the engine's: one value for the host, not per store.
    let text = format!("{}\n[limits]\nstack_kb = 256\n", store("acme"));
    let d = errors(HOST, &[("acme.toml", &text)]);
    let e = only(&d);
    assert!(
        e.message.contains("`stack_kb` cannot be set per store"),
        "{}",
        e.message
    );
    assert!(
        e.hint
            .as_deref()
            .is_some_and(|h| h.contains("[runtime.limits]"))
    );
}

/// A store of three systems in the `[systems.<name>]` form: two shops of one platform and an
/// ERP, owners and the preferred system named by system.
fn three_systems(eu_shop: &str) -> String {
    format!(
        r#"[store]
id = "acme"

[systems.shop-us]
platform = "shopify"
shop = "acme-us.myshopify.com"
access_token = {{ file = "secret" }}
webhook_secrets = [{{ file = "secret" }}]

[systems.shop-eu]
platform = "shopify"
shop = "{eu_shop}"
access_token = {{ file = "secret" }}
webhook_secrets = [{{ file = "secret" }}]

[systems.erp]
platform = "netsuite"
account_id = "123456"
consumer_key = {{ file = "secret" }}
consumer_secret = {{ file = "secret" }}
token_id = {{ file = "secret" }}
token_secret = {{ file = "secret" }}

[policy]
default = "prefer-erp"
"product.title" = "shop-us"
"#
    )
}

#[test]
fn a_store_lists_its_systems_by_name() {
    let (_dir, host) = setup(
        HOST,
        &[("acme.toml", &three_systems("acme-eu.myshopify.com"))],
    );
    let c = load(&host).unwrap();
    let s = c.store("acme").unwrap();
    let names: Vec<(&str, &str)> = s
        .systems
        .iter()
        .map(|sys| (sys.name.as_str(), sys.platform.as_str()))
        .collect();
    assert_eq!(
        names,
        [
            ("shop-us", "shopify"),
            ("shop-eu", "shopify"),
            ("erp", "netsuite")
        ]
    );
    let eu: &ShopifySettings = s.system("shop-eu").unwrap().settings().unwrap();
    assert_eq!(eu.shop, "acme-eu.myshopify.com");
    assert_eq!(eu.base_url.as_str(), "https://acme-eu.myshopify.com/");
    assert_eq!(s.policy.default, ConflictPolicy::Prefer("erp".into()));
    assert_eq!(
        serde_json::Value::Object(s.plugin_config())["owners"],
        serde_json::json!({ "*": "erp", "product.title": "shop-us" })
    );
    // Every secret of every system is a reference the store reports.
    assert_eq!(s.secrets().len(), 2 + 2 + 4);
    // The systems turn into running systems, one per section, under their own names.
    std::fs::write(_dir.path().join("stores/secret"), "s3cr3t").unwrap();
    let setups = weft::platforms::store_systems(s).unwrap();
    let names: Vec<&str> = setups.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["shop-us", "shop-eu", "erp"]);
    assert_eq!(setups[1].account.as_deref(), Some("acme-eu.myshopify.com"));
}

#[test]
fn systems_are_checked_with_the_form_that_works() {
    // The same shop twice: syncing it twice would write everything twice.
    let d = errors(
        HOST,
        &[("acme.toml", &three_systems("acme-us.myshopify.com"))],
    );
    let e = only(&d);
    assert_eq!(
        e.message,
        "shop `acme-us.myshopify.com` is configured by two systems"
    );
    assert_eq!(e.line, 12);

    // An unknown platform, a missing one, a bad name, and a name given twice.
    let text = replace(
        &three_systems("acme-eu.myshopify.com"),
        "platform = \"netsuite\"",
        "platform = \"netsuit\"",
    );
    let e = only(&errors(HOST, &[("acme.toml", &text)])).clone();
    assert_eq!(e.message, "unknown platform `netsuit` for system `erp`");
    assert_eq!(e.hint.as_deref(), Some("did you mean `netsuite`?"));

    let text = replace(
        &three_systems("acme-eu.myshopify.com"),
        "[systems.erp]\nplatform = \"netsuite\"\n",
        "[systems.erp]\n",
    );
    let e = only(&errors(HOST, &[("acme.toml", &text)])).clone();
    assert_eq!(
        e.message,
        "missing required key `platform` in [systems.erp]"
    );
    assert!(
        e.hint
            .unwrap()
            .contains("`shopify`, `netsuite`, `woocommerce`, `sheets`, `bigcommerce` or `magento`")
    );

    let text = replace(
        &three_systems("acme-eu.myshopify.com"),
        "[systems.erp]",
        "[systems.ERP]",
    );
    let d = errors(HOST, &[("acme.toml", &text)]);
    assert!(
        d.iter()
            .any(|e| e.message == "system name `ERP` contains the forbidden character 'E'"),
        "{d}"
    );

    // The old `[netsuite]` table and `[systems.netsuite]` are the same system.
    let text = format!(
        "{}\n[systems.netsuite]\naccount_id = \"1\"\n",
        store("acme")
    );
    let d = errors(HOST, &[("acme.toml", &text)]);
    assert!(
        d.iter()
            .any(|e| e.message == "system `netsuite` is configured twice in store `acme`"),
        "{d}"
    );

    // Owners and the preferred system name systems of the store.
    let text = replace(
        &three_systems("acme-eu.myshopify.com"),
        "\"product.title\" = \"shop-us\"",
        "\"product.title\" = \"shopify\"",
    );
    let e = only(&errors(HOST, &[("acme.toml", &text)])).clone();
    assert_eq!(
        e.message,
        "unknown system `shopify` as owner of `product.title` in [policy]"
    );
    let text = replace(
        &three_systems("acme-eu.myshopify.com"),
        "default = \"prefer-erp\"",
        "default = \"prefer-netsuite\"",
    );
    let e = only(&errors(HOST, &[("acme.toml", &text)])).clone();
    assert_eq!(
        e.message,
        "`prefer-netsuite` in [policy] prefers `netsuite`, which is not a system of this store"
    );
    assert_eq!(
        e.hint.as_deref(),
        Some("expected one of `shop-us`, `shop-eu` or `erp`")
    );
}

#[test]
fn woocommerce_starter_config_loads_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let (text, vars) = weft::platforms::starter_store("woocommerce").unwrap();
    weft_config::init_with(dir.path(), &text).unwrap();
    let c = load(dir.path().join("weft.toml")).unwrap_or_else(|d| panic!("{d}"));
    let acme = c.store("acme").unwrap();
    let wc: &weft_woocommerce::config::WooCommerceSettings =
        acme.system("woocommerce").unwrap().settings().unwrap();
    assert_eq!(wc.site_url.as_str(), "https://shop.example.com/");
    assert_eq!(wc.per_page, 100);
    assert!(wc.webhook_secrets.is_empty());
    assert!(acme.system("shopify").is_none());
    assert_eq!(acme.policy.owners["product.title"], "woocommerce");
    assert_eq!(
        acme.plugin_config()["locations"]["woocommerce"],
        serde_json::json!("1")
    );
    for s in acme.secrets() {
        let SecretSource::Env(var) = s.source() else {
            panic!("{s:?}")
        };
        assert!(vars.contains(&var.as_str()), "{var}");
    }
    assert_eq!(c.check_secrets().len(), 6);
    assert!(weft::platforms::starter_store("netsuite").is_err());
}

#[test]
fn bigcommerce_starter_config_loads_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let (text, vars) = weft::platforms::starter_store("bigcommerce").unwrap();
    weft_config::init_with(dir.path(), &text).unwrap();
    let c = load(dir.path().join("weft.toml")).unwrap_or_else(|d| panic!("{d}"));
    let acme = c.store("acme").unwrap();
    let bc: &weft_bigcommerce::config::BigCommerceSettings =
        acme.system("bigcommerce").unwrap().settings().unwrap();
    assert_eq!(bc.store_hash, "abc123");
    assert_eq!(bc.quota, 150);
    assert_eq!(bc.webhook_secrets.len(), 1);
    assert!(acme.system("shopify").is_none());
    assert_eq!(acme.policy.owners["product.title"], "bigcommerce");
    assert_eq!(
        acme.plugin_config()["locations"]["1"],
        serde_json::json!("1")
    );
    for s in acme.secrets() {
        let SecretSource::Env(var) = s.source() else {
            panic!("{s:?}")
        };
        assert!(vars.contains(&var.as_str()), "{var}");
    }
    assert_eq!(c.check_secrets().len(), 6);
}

#[test]
fn woocommerce_sections_are_checked() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("weft.toml"), HOST).unwrap();
    std::fs::create_dir_all(dir.path().join("stores")).unwrap();
    let site = |id: &str, per_page: &str| {
        format!(
            r#"[store]
id = "{id}"
[systems.woocommerce]
platform = "woocommerce"
site_url = "https://shop.example.com"
consumer_key = {{ env = "K" }}
consumer_secret = {{ env = "S" }}
per_page = {per_page}
[systems.netsuite]
platform = "netsuite"
account_id = "{id}1"
consumer_key = {{ env = "A" }}
consumer_secret = {{ env = "B" }}
token_id = {{ env = "C" }}
token_secret = {{ env = "D" }}
[plugins]
mapper = "builtin:shopify-netsuite"
"#
        )
    };
    std::fs::write(dir.path().join("stores/a.toml"), site("a", "500")).unwrap();
    std::fs::write(dir.path().join("stores/b.toml"), site("b", "50")).unwrap();
    let d = load(dir.path().join("weft.toml")).unwrap_err().to_string();
    assert!(d.contains("per_page"), "{d}");
    assert!(d.contains("site_url"), "one site, two systems: {d}");
}

#[test]
fn magento_sections_are_checked() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("weft.toml"), HOST).unwrap();
    std::fs::create_dir_all(dir.path().join("stores")).unwrap();
    let shop = |id: &str, extra: &str| {
        format!(
            r#"[store]
id = "{id}"
[systems.magento]
platform = "magento"
base_url = "https://shop.example.com"
access_token = {{ env = "T" }}
{extra}
[systems.netsuite]
platform = "netsuite"
account_id = "{id}1"
consumer_key = {{ env = "A" }}
consumer_secret = {{ env = "B" }}
token_id = {{ env = "C" }}
token_secret = {{ env = "D" }}
[plugins]
mapper = "builtin:shopify-netsuite"
"#
        )
    };
    std::fs::write(
        dir.path().join("stores/a.toml"),
        shop("a", "bulk_poll_secs = 2"),
    )
    .unwrap();
    let c = load(dir.path().join("weft.toml")).unwrap();
    let sys = c.stores[0]
        .systems
        .iter()
        .find(|s| s.name == "magento")
        .unwrap();
    let mg = sys
        .settings::<weft_magento::config::MagentoSettings>()
        .unwrap();
    assert_eq!(mg.store_code, "default");
    assert_eq!(mg.bulk_poll, std::time::Duration::from_secs(2));
    assert_eq!(mg.bulk_timeout, std::time::Duration::from_secs(1800));
    // A second store on the same store view, and a bad store code.
    std::fs::write(dir.path().join("stores/b.toml"), shop("b", "")).unwrap();
    std::fs::write(
        dir.path().join("stores/c.toml"),
        shop("c", "store_code = \"Main Store\""),
    )
    .unwrap();
    let d = load(dir.path().join("weft.toml")).unwrap_err().to_string();
    assert!(d.contains("one system per Magento store view"), "{d}");
    assert!(d.contains("invalid store code `Main Store`"), "{d}");
}

#[test]
fn magento_starter_config_loads_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let (text, vars) = weft::platforms::starter_store("magento").unwrap();
    weft_config::init_with(dir.path(), &text).unwrap();
    let c = load(dir.path().join("weft.toml")).unwrap_or_else(|d| panic!("{d}"));
    let acme = c.store("acme").unwrap();
    let mg: &weft_magento::config::MagentoSettings =
        acme.system("magento").unwrap().settings().unwrap();
    assert_eq!(mg.base_url.as_str(), "https://shop.example.com/");
    assert_eq!(mg.store_code, "default");
    assert!(acme.system("shopify").is_none());
    assert_eq!(acme.policy.owners["product.title"], "magento");
    assert_eq!(
        acme.plugin_config()["locations"]["magento:default"],
        serde_json::json!("1")
    );
    for s in acme.secrets() {
        let SecretSource::Env(var) = s.source() else {
            panic!("{s:?}")
        };
        assert!(vars.contains(&var.as_str()), "{var}");
    }
}

#[test]
fn on_change_actions_per_field_pattern() {
    let (_dir, path) = setup(
        HOST,
        &[(
            "acme.toml",
            &format!(
                "{}\n[policy]\ndefault = \"prefer-netsuite\"\n\"price.price\" = \"netsuite\"\non_change = {{ \"*\" = \"revert\", \"price.price\" = \"propose\", \"variant.*\" = \"accept\" }}\n",
                store("acme")
            ),
        )],
    );
    let c = load(&path).unwrap();
    let p = &c.stores[0].policy;
    assert_eq!(p.on_change["*"], ChangeAction::Revert);
    assert_eq!(p.on_change["price.price"], ChangeAction::Propose);
    assert_eq!(p.on_change["variant.*"], ChangeAction::Accept);
    assert_eq!(
        p.owners.len(),
        1,
        "on_change is not an owner: {:?}",
        p.owners
    );
    // The resolver is told the owners only.
    assert!(
        !c.stores[0].plugin_config()["owners"]
            .as_object()
            .unwrap()
            .keys()
            .any(|k| k.starts_with("on_change")),
        "{:?}",
        c.stores[0].plugin_config()
    );

    let d = errors(
        HOST,
        &[(
            "acme.toml",
            &format!(
                "{}\n[policy]\ndefault = \"prefer-netsuite\"\non_change = {{ \"price.price\" = \"revret\", \"prices.x\" = \"accept\" }}\n",
                store("acme")
            ),
        )],
    );
    let v: Vec<&Diagnostic> = d.iter().collect();
    assert_eq!(v.len(), 2, "{d}");
    assert_eq!(
        v[0].message,
        "unknown action `revret` for `price.price` in [policy] on_change"
    );
    assert_eq!(v[0].hint.as_deref(), Some("did you mean `revert`?"));
    assert_eq!(
        v[1].message,
        "unknown entity kind `prices` in field `prices.x` in [policy] on_change"
    );
    let d = errors(
        HOST,
        &[(
            "acme.toml",
            &format!("{}\n[policy]\non_change = \"revert\"\n", store("acme")),
        )],
    );
    assert_eq!(
        only(&d).message,
        "`on_change` in [policy] is a table of field patterns"
    );
}

#[test]
fn a_shops_backfill_is_set_by_its_bulk_keys() {
    let with = |keys: &str| {
        replace(
            &store("acme"),
            "webhook_secrets = [{ env = \"W_acme\" }]\n",
            &format!("webhook_secrets = [{{ env = \"W_acme\" }}]\n{keys}\n"),
        )
    };
    let (_dir, path) = setup(HOST, &[("acme.toml", &store("acme"))]);
    assert_eq!(
        shopify(&load(&path).unwrap().stores[0]).backfill,
        weft_shopify::Backfill::default()
    );
    let (_dir, path) = setup(
        HOST,
        &[(
            "acme.toml",
            &with("bulk_above_variants = 50000\nbulk_max_wait = \"90m\""),
        )],
    );
    let b = shopify(&load(&path).unwrap().stores[0]).backfill;
    assert_eq!(b.bulk_above_variants, 50_000);
    assert_eq!(b.max_wait, std::time::Duration::from_secs(5400));
    assert_eq!(b.poll_every, weft_shopify::Backfill::default().poll_every);
    let (_dir, path) = setup(HOST, &[("acme.toml", &with("bulk_backfill = false"))]);
    assert_eq!(
        shopify(&load(&path).unwrap().stores[0])
            .backfill
            .bulk_above_variants,
        u64::MAX,
        "never in bulk"
    );

    let d = errors(
        HOST,
        &[(
            "acme.toml",
            &with("bulk_backfill = false\nbulk_above_variants = 10"),
        )],
    );
    assert_eq!(
        only(&d).message,
        "`bulk_above_variants` in [shopify] has no effect with `bulk_backfill = false`"
    );
    let d = errors(HOST, &[("acme.toml", &with("bulk_max_wait = \"20d\""))]);
    assert_eq!(
        only(&d).message,
        "`bulk_max_wait` in [shopify] must be between 1m and 10d, found `20d`"
    );
    let d = errors(HOST, &[("acme.toml", &with("bulk_max_wait = \"soon\""))]);
    assert!(
        only(&d)
            .message
            .starts_with("`bulk_max_wait` in [shopify] is not a duration"),
        "{d}"
    );
    let d = errors(HOST, &[("acme.toml", &with("bulk_above_variants = -1"))]);
    assert!(only(&d).message.contains("must be between 0 and"), "{d}");
}

#[test]
fn a_shops_other_currencies_are_iso_codes_listed_once() {
    let with = |list: &str| {
        replace(
            &store("acme"),
            "webhook_secrets = [{ env = \"W_acme\" }]\n",
            &format!("webhook_secrets = [{{ env = \"W_acme\" }}]\ncurrencies = {list}\n"),
        )
    };
    let (_dir, path) = setup(HOST, &[("acme.toml", &with("[\"EUR\", \"CAD\"]"))]);
    let c = load(&path).unwrap();
    assert_eq!(shopify(&c.stores[0]).currencies, ["EUR", "CAD"]);
    let (_dir, path) = setup(HOST, &[("acme.toml", &store("acme"))]);
    assert!(
        shopify(&load(&path).unwrap().stores[0])
            .currencies
            .is_empty()
    );

    let d = errors(HOST, &[("acme.toml", &with("[\"EUR\", \"euro\"]"))]);
    let e = only(&d);
    assert_eq!(
        e.message,
        "`euro` in [shopify].currencies is not an ISO 4217 currency code"
    );
    assert_eq!((e.line, e.column), (8, 22), "at the code");
    let d = errors(HOST, &[("acme.toml", &with("[\"EUR\", \"EUR\"]"))]);
    assert_eq!(
        only(&d).message,
        "`EUR` is listed twice in [shopify].currencies"
    );
    let d = errors(HOST, &[("acme.toml", &with("\"EUR\""))]);
    assert_eq!(
        only(&d).message,
        "`currencies` in [shopify] must be a list of strings, found a string"
    );
    let d = errors(HOST, &[("acme.toml", &with("[1]"))]);
    assert!(
        only(&d).message.contains("must be a list of strings"),
        "{d}"
    );
    // Collections: read with products only when asked.
    let on = replace(
        &store("acme"),
        "webhook_secrets = [{ env = \"W_acme\" }]\n",
        "webhook_secrets = [{ env = \"W_acme\" }]\ncollections = true\n",
    );
    let (_dir, path) = setup(HOST, &[("acme.toml", &on)]);
    assert!(shopify(&load(&path).unwrap().stores[0]).collections);
    let (_dir, path) = setup(HOST, &[("acme.toml", &store("acme"))]);
    assert!(!shopify(&load(&path).unwrap().stores[0]).collections);
    let d = errors(HOST, &[("acme.toml", &on.replace("= true", "= \"yes\""))]);
    assert_eq!(
        only(&d).message,
        "`collections` in [shopify] must be a boolean (`true` or `false`), found a string"
    );
}
