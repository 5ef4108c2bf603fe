//! Shopify global ids (`gid://shopify/Type/N`) and decimal money amounts.

/// First id handed out: 2^53 + 1, so any client that parses ids as JSON floats breaks at once.
pub const FIRST_ID: u64 = 9_007_199_254_740_993;

/// Formats `gid://shopify/{kind}/{id}`.
pub fn gid(kind: &str, id: u64) -> String {
    format!("gid://shopify/{kind}/{id}")
}

/// Parses `gid://shopify/{kind}/{id}` (an optional `?query` suffix is ignored) and checks the kind.
pub fn parse_gid(expected_kind: &str, s: &str) -> Option<u64> {
    let (kind, id) = split_gid(s)?;
    (kind == expected_kind).then_some(id)
}

/// Splits a gid into its kind and numeric id.
pub fn split_gid(s: &str) -> Option<(&str, u64)> {
    let rest = s.strip_prefix("gid://shopify/")?;
    let rest = rest.split('?').next()?;
    let (kind, id) = rest.split_once('/')?;
    if kind.is_empty() || id.is_empty() || !id.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((kind, id.parse().ok()?))
}

/// Parses a decimal amount ("19.99", "20", "0.5") into cents; at most two decimals, not negative.
pub fn parse_money(s: &str) -> Option<i64> {
    let s = s.trim();
    let (whole, frac) = match s.split_once('.') {
        Some((w, f)) => (w, f),
        None => (s, ""),
    };
    if whole.is_empty() || !whole.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if frac.len() > 2 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let whole: i64 = whole.parse().ok()?;
    let mut cents: i64 = if frac.is_empty() {
        0
    } else {
        frac.parse().ok()?
    };
    if frac.len() == 1 {
        cents *= 10;
    }
    whole.checked_mul(100)?.checked_add(cents)
}

/// Formats cents as Shopify does ("19.99", "20.00").
pub fn format_money(cents: i64) -> String {
    format!("{}.{:02}", cents / 100, cents % 100)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gids_round_trip_above_2_pow_53() {
        let g = gid("Product", FIRST_ID);
        assert_eq!(g, "gid://shopify/Product/9007199254740993");
        assert_eq!(parse_gid("Product", &g), Some(FIRST_ID));
        assert_eq!(parse_gid("Order", &g), None);
        assert_eq!(
            split_gid("gid://shopify/InventoryLevel/12?inventory_item_id=5"),
            Some(("InventoryLevel", 12))
        );
        assert_eq!(split_gid("gid://shopify/Product/abc"), None);
    }

    #[test]
    fn money_parses_and_formats() {
        assert_eq!(parse_money("19.99"), Some(1999));
        assert_eq!(parse_money("20"), Some(2000));
        assert_eq!(parse_money("0.5"), Some(50));
        assert_eq!(parse_money("1.999"), None);
        assert_eq!(parse_money("-1"), None);
        assert_eq!(format_money(2000), "20.00");
        assert_eq!(format_money(5), "0.05");
    }
}
