//! The `[systems.<name>]` section of a BigCommerce store, read by the real config loader.

use std::path::PathBuf;

use weft_bigcommerce::config::{BigCommerceSection, BigCommerceSettings};
use weft_config::{Diagnostics, PlatformSection};

fn load(store: &str) -> (tempfile::TempDir, Result<weft_config::Config, Diagnostics>) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("stores")).unwrap();
    std::fs::write(dir.path().join("weft.toml"), "stores_dir = \"stores\"\n").unwrap();
    std::fs::write(dir.path().join("stores/acme.toml"), store).unwrap();
    let host: PathBuf = dir.path().join("weft.toml");
    let sections: [&dyn PlatformSection; 1] = [&BigCommerceSection];
    let r = weft_config::load(&host, &sections);
    (dir, r)
}

fn store(system: &str) -> String {
    format!(
        r#"[store]
id = "acme"

[plugins]
mapper = "builtin:shopify-netsuite"

[systems.bc]
platform = "bigcommerce"
{system}

[systems.other]
platform = "bigcommerce"
store_hash = "xyz789"
access_token = {{ env = "BC_TOKEN2" }}
webhook_secrets = [{{ env = "BC_HOOK2" }}]
"#
    )
}

const OK: &str = r#"store_hash = "abc123"
access_token = { env = "BC_TOKEN" }
webhook_secrets = [{ env = "BC_HOOK" }]"#;

fn settings(c: &weft_config::Config) -> BigCommerceSettings {
    c.store("acme")
        .unwrap()
        .system("bc")
        .unwrap()
        .settings::<BigCommerceSettings>()
        .unwrap()
        .clone()
}

#[test]
fn a_minimal_section_takes_the_defaults() {
    let (_d, r) = load(&store(OK));
    let c = r.unwrap_or_else(|d| panic!("{d}"));
    let s = settings(&c);
    assert_eq!(s.store_hash, "abc123");
    assert_eq!(s.base_url.as_str(), "https://api.bigcommerce.com/");
    assert_eq!(s.quota, 150);
    assert_eq!(s.webhook_secrets.len(), 1);
}

#[test]
fn plans_and_enterprise_quotas() {
    let (_d, r) = load(&store(&format!("{OK}\nplan = \"pro\"")));
    assert_eq!(settings(&r.unwrap()).quota, 450);
    let (_d, r) = load(&store(&format!("{OK}\nplan = \"enterprise\"\nquota = 900")));
    assert_eq!(settings(&r.unwrap()).quota, 900);
    let (_d, r) = load(&store(&format!("{OK}\nplan = \"enterprise\"")));
    let d = r.unwrap_err().to_string();
    assert!(d.contains("needs a `quota`"), "{d}");
    let (_d, r) = load(&store(&format!("{OK}\nplan = \"gold\"")));
    let d = r.unwrap_err().to_string();
    assert!(d.contains("unknown BigCommerce plan `gold`"), "{d}");
    let (_d, r) = load(&store(&format!("{OK}\nplan = \"plus\"\nquota = 10")));
    assert!(r.is_err());
}

#[test]
fn one_system_per_store_hash() {
    let (_d, r) = load(&store(&OK.replace("abc123", "xyz789")));
    let d = r.unwrap_err().to_string();
    assert!(d.contains("xyz789"), "{d}");
}

#[test]
fn bad_hashes_missing_secrets_and_unknown_keys_are_reported_at_once() {
    let (_d, r) = load(&store(
        "store_hash = \"abc/123\"\naccess_token = \"plain\"\nwebhook_secret = []",
    ));
    let d = r.unwrap_err();
    let text = d.to_string();
    assert!(text.contains("invalid store hash `abc/123`"), "{text}");
    assert!(text.contains("webhook_secret"), "{text}");
    assert!(d.len() >= 3, "{text}");
    assert!(!text.contains("plain\n"), "no secret value printed: {text}");
}
