//! NetSuite external ids derived from Shopify data. External ids allow only letters, digits,
//! `_` and `-`, so SKUs are escaped reversibly: `_` becomes `__`, every byte of any other
//! character outside `[A-Za-z0-9-]` becomes `_` and two lowercase hex digits.

/// External id of the inventory item of a canonical SKU: `item-<escaped sku>`.
pub fn item_external_id(sku: &str) -> String {
    format!("item-{}", escape(sku))
}

/// External id of the matrix parent item of an option group (canonical `product`).
pub fn product_external_id(product: &str) -> String {
    format!("product-{}", escape(product))
}

/// External id of a NetSuite customer created from Shopify customer `id`.
pub fn customer_external_id(id: &str) -> String {
    format!("shopify-customer-{}", escape(id))
}

/// External id of the sales order of Shopify order `id`.
pub fn order_external_id(id: &str) -> String {
    format!("shopify-order-{}", escape(id))
}

/// External id of the credit memo of Shopify refund `id`.
pub fn refund_external_id(id: &str) -> String {
    format!("shopify-refund-{}", escape(id))
}

/// The canonical order key behind a sales order's external id, if it is one of ours.
pub fn order_id_of_external_id(eid: &str) -> Option<String> {
    eid.strip_prefix("shopify-order-")
        .and_then(unescape)
        .filter(|s| !s.is_empty())
}

/// The Shopify customer id behind a customer external id, if it is one of ours.
pub fn customer_id_of_external_id(eid: &str) -> Option<String> {
    eid.strip_prefix("shopify-customer-")
        .and_then(unescape)
        .filter(|s| !s.is_empty())
}

/// Escapes text into the external-id alphabet.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_ascii_alphanumeric() || c == '-' {
            out.push(c);
        } else if c == '_' {
            out.push_str("__");
        } else {
            let mut buf = [0u8; 4];
            for b in c.encode_utf8(&mut buf).bytes() {
                out.push_str(&format!("_{b:02x}"));
            }
        }
    }
    out
}

/// Reverses [`escape`]; `None` for text that `escape` cannot produce.
pub fn unescape(text: &str) -> Option<String> {
    let b = text.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'_' if b.get(i + 1) == Some(&b'_') => {
                out.push(b'_');
                i += 2;
            }
            b'_' => {
                let hex = std::str::from_utf8(b.get(i + 1..i + 3)?).ok()?;
                if hex.bytes().any(|h| h.is_ascii_uppercase()) {
                    return None;
                }
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            }
            c if c.is_ascii_alphanumeric() || c == b'-' => {
                out.push(c);
                i += 1;
            }
            _ => return None,
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn examples() {
        assert_eq!(item_external_id("LS/S.1"), "item-LS_2fS_2e1");
        assert_eq!(item_external_id("a_b"), "item-a__b");
        assert_eq!(item_external_id("é"), "item-_c3_a9");
        assert_eq!(customer_external_id("7001"), "shopify-customer-7001");
        assert_eq!(
            order_external_id("820982911946154508"),
            "shopify-order-820982911946154508"
        );
        assert_eq!(
            customer_id_of_external_id("shopify-customer-7001").as_deref(),
            Some("7001")
        );
        assert_eq!(customer_id_of_external_id("CUST-1"), None);
        assert_eq!(customer_id_of_external_id("shopify-customer-"), None);
        assert_eq!(unescape("_2"), None);
        assert_eq!(unescape("a b"), None);
    }

    proptest! {
        #[test]
        fn escape_is_reversible_and_in_alphabet(s in "\\PC{0,24}") {
            let e = escape(&s);
            prop_assert!(e.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-'));
            prop_assert_eq!(unescape(&e), Some(s));
        }
    }
}
