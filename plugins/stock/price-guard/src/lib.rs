//! Stock resolver `price-guard`, a worked business rule: a price no system but the ERP may set
//! more than `max_drop_percent` below the ERP's price, whether it was edited on one side only
//! (the resolver guards the `fields`, so weft puts every change of them to it) or on several at
//! once (then the newer edit wins, last-write-wins, within the same floor). A price under the
//! floor is raised to the floor (rounded up to the cent), or, with `action = "refuse"`, refused
//! so the agreed price is written back; either way a warning names it. A fat-fingered "4.99"
//! instead of "49.99" in the shop admin cannot become the price of record.
//!
//! Config (`[plugin.config]`):
//!
//! | key | default | meaning |
//! |---|---|---|
//! | `max_drop_percent` | `20` | how far (0–100, fractions allowed) a storefront price may go below the ERP's |
//! | `erp` | `"netsuite"` | the system (its name in the store) whose price is the reference |
//! | `fields` | `["price.price"]` | the `kind.field` pairs that are guarded |
//! | `action` | `"clamp"` | `"clamp"` raises a price under the floor to it; `"refuse"` refuses the change |
//! | `tie` | the system that made the agreed price | who wins when both versions are the same instant |
//!
//! Fields that are not guarded are decided by last-write-wins alone. Guarded values are
//! decimal strings (`"49.99"`) or JSON numbers; a guarded value that is neither fails the batch.

use weft_plugin_sdk::json::normalize_decimal;
use weft_plugin_sdk::prelude::*;
use weft_plugin_sdk::resolve::{describe, last_write_wins};
use weft_plugin_sdk::serde_json::{self, Value};

/// The resolver.
#[derive(Debug, Default, Clone, Copy)]
pub struct PriceGuard;

/// One millionth of a currency unit: prices are compared as exact integers.
const MICROS: i128 = 1_000_000;

/// Parses a price (JSON text of a decimal string or number) into micro-units.
fn micros(c: &FieldChange, which: &str, text: &str) -> Result<i128, PluginError> {
    let bad = || {
        PluginError::Other(format!(
            "{}: {which} value {text} is not a price",
            describe(c)
        ))
    };
    let raw = match serde_json::from_str::<Value>(text).map_err(|_| bad())? {
        Value::String(s) => s,
        Value::Number(n) => n.to_string(),
        _ => return Err(bad()),
    };
    let norm = normalize_decimal(&raw).ok_or_else(bad)?;
    let (neg, digits) = match norm.strip_prefix('-') {
        Some(d) => (true, d),
        None => (false, norm.as_str()),
    };
    let (int, frac) = digits.split_once('.').ok_or_else(bad)?;
    let mut frac6: String = frac.chars().take(6).collect();
    while frac6.len() < 6 {
        frac6.push('0');
    }
    let v = int.parse::<i128>().map_err(|_| bad())? * MICROS
        + frac6.parse::<i128>().map_err(|_| bad())?;
    Ok(if neg { -v } else { v })
}

/// Micro-units as a canonical decimal string (two decimals at least).
fn format_micros(v: i128) -> String {
    let sign = if v < 0 { "-" } else { "" };
    let v = v.abs();
    let text = format!("{sign}{}.{:06}", v / MICROS, v % MICROS);
    normalize_decimal(&text).unwrap_or(text)
}

/// The settings read from config.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The largest drop below the ERP's price, in basis points.
    pub max_drop_bp: i128,
    /// The reference system.
    pub erp: String,
    /// Guarded `(kind, field)` pairs.
    pub fields: Vec<(String, String)>,
    /// Refuse instead of clamping.
    pub refuse: bool,
    /// Who wins a tie of versions.
    pub tie: Option<String>,
}

impl Settings {
    /// Reads and checks the store's config.
    pub fn load(cx: &Context) -> Result<Settings, PluginError> {
        let pct: f64 = cx.config_or("max_drop_percent", 20.0)?;
        if !(0.0..=100.0).contains(&pct) {
            return Err(PluginError::Config(format!(
                "config key `max_drop_percent`: must be between 0 and 100, got {pct}"
            )));
        }
        let fields: Vec<String> = cx.config_or("fields", vec!["price.price".to_owned()])?;
        let fields = fields
            .into_iter()
            .map(|f| match f.split_once('.') {
                Some((k, name)) if EntityKind::parse(k).is_some() && !name.is_empty() => {
                    Ok((k.to_owned(), name.to_owned()))
                }
                _ => Err(PluginError::Config(format!(
                    "config key `fields`: {f:?} must be \"<kind>.<field>\" with a known kind"
                ))),
            })
            .collect::<Result<_, _>>()?;
        let action: String = cx.config_or("action", "clamp".to_owned())?;
        let refuse = match action.as_str() {
            "clamp" => false,
            "refuse" => true,
            other => {
                return Err(PluginError::Config(format!(
                    "config key `action`: must be \"clamp\" or \"refuse\", got {other:?}"
                )));
            }
        };
        Ok(Settings {
            max_drop_bp: (pct * 100.0).round() as i128,
            erp: cx.config_or("erp", "netsuite".to_owned())?,
            fields,
            refuse,
            tie: cx.config("tie")?,
        })
    }

    fn guarded(&self, c: &FieldChange) -> bool {
        self.fields
            .iter()
            .any(|(k, f)| k == c.kind.as_str() && *f == c.field)
    }

    /// The guarded fields as patterns, for `guards`.
    pub fn patterns(&self) -> Vec<String> {
        self.fields
            .iter()
            .map(|(k, f)| format!("{k}.{f}"))
            .collect()
    }

    /// Decides one field.
    pub fn decide(&self, c: &FieldChange) -> Result<Decision, PluginError> {
        let base = match c.occasion {
            Occasion::Change => Decision::Take(c.incoming.clone()),
            Occasion::Conflict => {
                let agreed_by = c
                    .changed()
                    .find(|s| s.system != c.incoming)
                    .map_or(c.incoming.as_str(), |s| s.system.as_str());
                last_write_wins(c, self.tie.as_deref().unwrap_or(agreed_by))?
            }
        };
        if !self.guarded(c) {
            return Ok(base);
        }
        let Decision::Take(winner) = &base else {
            return Ok(base);
        };
        if *winner == self.erp {
            return Ok(base); // the reference's own price always stands
        }
        let Some(erp_side) = c.side(&self.erp) else {
            return Err(PluginError::Config(format!(
                "{}: config key `erp` names {:?}, which is not a system of this store ({})",
                describe(c),
                self.erp,
                c.sides
                    .iter()
                    .map(|s| s.system.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        };
        let (Some(erp_text), Some(shop_text)) = (
            erp_side.value.as_deref(),
            c.side(winner).and_then(|s| s.value.as_deref()),
        ) else {
            return Ok(base);
        };
        let erp_price = micros(c, "erp", erp_text)?;
        let shop_price = micros(c, "storefront", shop_text)?;
        // floor = erp × (1 − drop), rounded up to the cent so it is never below the limit.
        let raw_floor = (erp_price * (10_000 - self.max_drop_bp)).div_euclid(10_000)
            + i128::from((erp_price * (10_000 - self.max_drop_bp)).rem_euclid(10_000) != 0);
        let cent = MICROS / 100;
        let floor = raw_floor.div_euclid(cent) * cent + cent * i128::from(raw_floor % cent != 0);
        if shop_price >= floor {
            return Ok(base);
        }
        let floor_text = format_micros(floor);
        let why = format!(
            "{}: {} price {} is more than {}% below {} price {}",
            describe(c),
            winner,
            format_micros(shop_price),
            format_micros(self.max_drop_bp * 10_000).trim_end_matches(".00"),
            erp_side.system,
            format_micros(erp_price),
        );
        if self.refuse {
            weft_plugin_sdk::warn!("{why}; refused");
            return Ok(Decision::Refuse(why));
        }
        weft_plugin_sdk::warn!("{why}; using {floor_text}");
        Ok(Decision::Value(Value::String(floor_text).to_string()))
    }
}

impl Resolver for PriceGuard {
    fn info(&self) -> PluginInfo {
        PluginInfo::new(
            "price-guard",
            env!("CARGO_PKG_VERSION"),
            "Newest price wins, but a storefront price never drops more than N% below the ERP's.",
        )
    }

    fn resolve(
        &self,
        cx: &Context,
        changes: Vec<FieldChange>,
    ) -> Result<Vec<Decision>, PluginError> {
        let settings = Settings::load(cx)?;
        changes.iter().map(|c| settings.decide(c)).collect()
    }

    fn guards(&self, cx: &Context) -> Result<Vec<String>, PluginError> {
        Ok(Settings::load(cx)?.patterns())
    }
}

weft_plugin_sdk::export_resolver!(PriceGuard);

#[cfg(test)]
mod tests {
    use super::*;
    use weft_plugin_sdk::serde_json::json;
    use weft_plugin_sdk::testing::{Harness, HarnessError, change, conflict};

    const OLD: &str = "2026-11-26T10:00:00Z";
    const NEW: &str = "2026-11-26T10:05:00Z";

    fn price(shop: Value, shop_v: &str, erp: Value, erp_v: &str) -> FieldChange {
        conflict(
            EntityKind::Price,
            "SKU1",
            "price",
            Some(json!("50.00")),
            ("shopify", Some(shop), shop_v),
            ("netsuite", Some(erp), erp_v),
        )
    }

    #[test]
    fn newer_storefront_price_within_the_limit_wins() {
        let h = Harness::new(PriceGuard);
        assert_eq!(
            h.resolve(vec![price(json!("40.00"), NEW, json!("49.99"), OLD)])
                .unwrap(),
            vec![Decision::Take("shopify".into())]
        );
        // The ERP's newer price always wins, whatever its size.
        assert_eq!(
            h.resolve(vec![price(json!("45.00"), OLD, json!("1.00"), NEW)])
                .unwrap(),
            vec![Decision::Take("netsuite".into())]
        );
    }

    #[test]
    fn storefront_price_below_the_floor_is_raised_to_it() {
        let h = Harness::new(PriceGuard);
        // 20% below 49.99 is 39.992, rounded up to 40.00.
        assert_eq!(
            h.resolve(vec![price(json!("4.99"), NEW, json!(49.99), OLD)])
                .unwrap(),
            vec![Decision::Value("\"40.00\"".into())]
        );
        let log = h.last_log();
        assert_eq!(log.lines.len(), 1);
        assert_eq!(log.lines[0].level, Level::Warn);
        assert_eq!(
            log.lines[0].message,
            "price SKU1 field price: shopify price 4.99 is more than 20% below netsuite price 49.99; using 40.00"
        );
        // Exactly on the floor is allowed.
        assert_eq!(
            h.resolve(vec![price(json!("40.00"), NEW, json!("50.00"), OLD)])
                .unwrap(),
            vec![Decision::Take("shopify".into())]
        );
    }

    #[test]
    fn limit_erp_and_fields_are_configurable() {
        let h = Harness::new(PriceGuard).with_config(json!({
            "max_drop_percent": 12.5,
            "fields": ["price.price", "price.compare_at_price"],
        }));
        assert_eq!(
            h.resolve(vec![price(json!("80"), NEW, json!("100"), OLD)])
                .unwrap(),
            vec![Decision::Value("\"87.50\"".into())]
        );
        let mut cap = price(json!("1.00"), NEW, json!("100"), OLD);
        cap.field = "compare_at_price".into();
        assert_eq!(
            h.resolve(vec![cap]).unwrap(),
            vec![Decision::Value("\"87.50\"".into())]
        );
        // Unguarded fields are plain last-write-wins.
        let mut title = price(json!("x"), NEW, json!("y"), OLD);
        title.kind = EntityKind::Variant;
        title.field = "title".into();
        assert_eq!(
            h.resolve(vec![title]).unwrap(),
            vec![Decision::Take("shopify".into())]
        );
        // With the shop as the reference, the other system is held to its floor.
        let h = Harness::new(PriceGuard).with_config(json!({"erp": "shopify"}));
        assert_eq!(
            h.resolve(vec![price(json!("100"), OLD, json!("10"), NEW)])
                .unwrap(),
            vec![Decision::Value("\"80.00\"".into())]
        );
    }

    #[test]
    fn removed_values_fall_back_to_last_write_wins() {
        let h = Harness::new(PriceGuard);
        let mut c = price(json!("1.00"), NEW, json!("100"), OLD);
        c.sides[1].value = None;
        assert_eq!(
            h.resolve(vec![c]).unwrap(),
            vec![Decision::Take("shopify".into())]
        );
    }

    #[test]
    fn bad_config_and_bad_prices_are_errors() {
        for (config, needle) in [
            (json!({"max_drop_percent": 150}), "between 0 and 100"),
            (json!({"fields": ["price"]}), "config key `fields`"),
            (json!({"erp": "sheets"}), "not a system of this store"),
            (json!({"action": "drop"}), "config key `action`"),
        ] {
            let err = Harness::new(PriceGuard)
                .with_config(config)
                .resolve(vec![price(json!("1"), NEW, json!("2"), OLD)])
                .unwrap_err();
            assert!(
                matches!(&err, HarnessError::Plugin(PluginError::Config(m)) if m.contains(needle)),
                "{err}"
            );
        }
        let err = Harness::new(PriceGuard)
            .resolve(vec![price(json!("cheap"), NEW, json!("2"), OLD)])
            .unwrap_err();
        assert_eq!(
            err,
            HarnessError::Plugin(PluginError::Other(
                "price SKU1 field price: storefront value \"cheap\" is not a price".into()
            ))
        );
    }

    #[test]
    fn one_sided_storefront_prices_are_guarded_too() {
        let h = Harness::new(PriceGuard);
        assert_eq!(h.guards().unwrap(), vec!["price.price".to_string()]);
        let edit = |shop: Value| {
            change(
                EntityKind::Price,
                "SKU1",
                "price",
                Some(json!("49.99")),
                ("shopify", Some(shop), NEW),
                ("netsuite", OLD),
            )
        };
        // Within the floor: taken.
        assert_eq!(
            h.resolve(vec![edit(json!("45.00"))]).unwrap(),
            vec![Decision::Take("shopify".into())]
        );
        // Under it: clamped by default, refused with its reason when so configured.
        assert_eq!(
            h.resolve(vec![edit(json!("4.99"))]).unwrap(),
            vec![Decision::Value("\"40.00\"".into())]
        );
        let h = Harness::new(PriceGuard).with_config(json!({"action": "refuse"}));
        assert_eq!(
            h.resolve(vec![edit(json!("4.99"))]).unwrap(),
            vec![Decision::Refuse(
                "price SKU1 field price: shopify price 4.99 is more than 20% below netsuite price 49.99"
                    .into()
            )]
        );
        // The ERP's own one-sided change always stands.
        let erp = change(
            EntityKind::Price,
            "SKU1",
            "price",
            Some(json!("49.99")),
            ("netsuite", Some(json!("1.00")), NEW),
            ("shopify", OLD),
        );
        assert_eq!(
            h.resolve(vec![erp]).unwrap(),
            vec![Decision::Take("netsuite".into())]
        );
        let h = Harness::new(PriceGuard).with_config(json!({"fields": ["variant.cost"]}));
        assert_eq!(h.guards().unwrap(), vec!["variant.cost".to_string()]);
    }

    #[test]
    fn micros_round_trip() {
        assert_eq!(format_micros(49_990_000), "49.99");
        assert_eq!(format_micros(-1_500_000), "-1.50");
        assert_eq!(format_micros(1_234_500), "1.2345");
    }
}
