//! Native tests of the catalog the stock mapper syncs beyond a variant's basics: products with
//! options (Shopify options <-> NetSuite matrix items), product type, tags, weights, images,
//! SEO fields and custom fields (metafields <-> `custitem_*`), customers' addresses; fields a
//! record does not carry are left alone.

use serde_json::{Map, Value, json};
use weft_plugin_sdk::prelude::*;
use weft_plugin_sdk::testing::Harness;
use weft_stock_shopify_netsuite::ShopifyNetsuite;

const V: &str = "2026-11-26T10:00:00Z";

fn config() -> Value {
    json!({
        "sku_prefix": "WEB-",
        "matrix_options": {"Size": "custitem_size", "Colour": "custitem_colour"},
        "custom_fields": {"material": "custitem_material", "care": "custitem_care"},
        "metafield_namespace": "custom",
    })
}

fn harness() -> Harness<ShopifyNetsuite> {
    Harness::new(ShopifyNetsuite).with_config(config())
}

fn doc(system: &str, kind: EntityKind, id: &str, body: &Value) -> PlatformDoc {
    PlatformDoc::from_json(system, kind, id, V, body)
}

fn records(h: &Harness<ShopifyNetsuite>, d: PlatformDoc) -> Vec<CanonicalRecord> {
    match h.to_canonical(vec![d]).unwrap().remove(0) {
        ToCanonicalOutcome::Mapped(rs) => rs,
        other => panic!("{other:?}"),
    }
}

fn fields(r: &CanonicalRecord) -> Value {
    serde_json::from_str(&r.fields).unwrap()
}

fn commands(h: &Harness<ShopifyNetsuite>, req: WriteRequest) -> Vec<WriteCommand> {
    match h.from_canonical(vec![req]).unwrap().remove(0) {
        FromCanonicalOutcome::Commands(cs) => cs,
        other => panic!("{other:?}"),
    }
}

fn body(c: &WriteCommand) -> Value {
    serde_json::from_str(&c.body).unwrap()
}

fn req(target: &str, record: CanonicalRecord, current: Option<&Value>) -> WriteRequest {
    WriteRequest {
        deleted: false,
        target: target.into(),
        record,
        current: current.map(Value::to_string),
        target_id: None,
    }
}

/// A Shopify product with two options, as GraphQL reads normalize it.
fn tee() -> Value {
    let variant = |id: &str, sku: &str, size: &str, colour: &str| {
        json!({"id": id, "product_id": "88", "title": format!("{size} / {colour}"), "sku": sku,
               "price": "19.00", "compare_at_price": null, "barcode": null,
               "inventory_item_id": format!("9{id}"), "updated_at": V,
               "option1": size, "option2": colour, "option3": null,
               "weight": 0.25, "weight_unit": "kg"})
    };
    json!({
        "id": "88", "title": "Tee", "body_html": "<p>Cotton.</p>", "vendor": "Acme",
        "product_type": "Shirts", "handle": "tee", "status": "active",
        "tags": "summer, cotton", "updated_at": V,
        "options": [{"name": "Size", "values": ["S", "M"]}, {"name": "Colour", "values": ["White"]}],
        "images": [{"url": "https://cdn.example.com/tee.jpg", "alt": "Front"},
                   {"url": "https://cdn.example.com/tee-back.jpg", "alt": null}],
        "seo": {"title": "Cotton tee", "description": "A soft tee."},
        "category": "aa-1-13-8",
        "metafields": [
            {"namespace": "custom", "key": "material", "type": "single_line_text_field", "value": "Cotton"},
            {"namespace": "other", "key": "care", "type": "single_line_text_field", "value": "ignored"}
        ],
        "variants": [variant("1", "TEE-S-W", "S", "White"), variant("2", "TEE-M-W", "M", "White")]
    })
}

/// What NetSuite holds after weft wrote `body` (the sim renders references with refName).
fn netsuite_item(id: &str, body: &Value) -> Value {
    let mut item = Map::new();
    item.insert("id".into(), json!(id));
    for (k, v) in body.as_object().unwrap() {
        if k == "weft:parent" {
            continue;
        }
        let v = match (k.as_str(), v) {
            ("parent", _) => json!({"id": "500", "refName": "WEB-tee"}),
            ("weightUnit", Value::Object(o)) => {
                let name = match o["id"].as_str() {
                    Some("1") => "lb",
                    Some("2") => "oz",
                    Some("4") => "g",
                    _ => "kg",
                };
                json!({"id": o["id"], "refName": name})
            }
            (k, Value::Object(o)) if k.starts_with("matrixOption") => {
                json!({"id": "1", "refName": o["refName"]})
            }
            _ => v.clone(),
        };
        if !v.is_null() {
            item.insert(k.clone(), v);
        }
    }
    Value::Object(item)
}

#[test]
fn an_optioned_product_becomes_matrix_children_and_back() {
    let h = harness();
    let rs = records(&h, doc("shopify", EntityKind::Product, "88", &tee()));
    let small = fields(&rs[0]);
    assert_eq!(small["product"], "tee");
    assert_eq!(
        small["option_values"],
        json!({"Size": "S", "Colour": "White"})
    );
    assert_eq!(small["tags"], json!(["cotton", "summer"]));
    assert_eq!(small["weight"], "0.25");
    assert_eq!(small["weight_unit"], "kg");
    assert_eq!(
        small["images"],
        json!([{"url": "https://cdn.example.com/tee.jpg", "alt": "Front"},
               {"url": "https://cdn.example.com/tee-back.jpg", "alt": null}])
    );
    assert_eq!(small["seo_title"], "Cotton tee");
    assert_eq!(small["category"], "aa-1-13-8");
    // Only the configured namespace; a configured key without a metafield is null.
    assert_eq!(small["custom"], json!({"material": "Cotton", "care": null}));

    // To NetSuite: a child of the parent item `WEB-tee`, which is upserted first.
    let cs = commands(&h, req("netsuite", rs[0].clone(), None));
    assert_eq!(cs.len(), 1);
    let b = body(&cs[0]);
    assert_eq!(b["matrixType"], "CHILD");
    assert_eq!(b["parent"], json!({"externalId": "product-tee"}));
    assert_eq!(b["matrixOptioncustitem_size"], json!({"refName": "S"}));
    assert_eq!(
        b["matrixOptioncustitem_colour"],
        json!({"refName": "White"})
    );
    assert_eq!(
        b["weft:parent"],
        json!({"externalId": "product-tee", "itemId": "WEB-tee", "matrixType": "PARENT",
               "isInactive": false, "displayName": "Tee"})
    );
    assert_eq!(b["custitem_web_tags"], "cotton, summer");
    assert_eq!(b["weight"], json!(0.25));
    assert_eq!(b["weightUnit"], json!({"id": "3"}));
    assert_eq!(b["pageTitle"], "Cotton tee");
    assert_eq!(b["storeDescription"], "A soft tee.");
    assert_eq!(b["custitem_web_category"], "aa-1-13-8");
    assert_eq!(b["custitem_material"], "Cotton");
    assert_eq!(b["custitem_care"], Value::Null);

    // NetSuite's child maps back to the same record, and echoes write nothing.
    let item = netsuite_item("1201", &b);
    let back = records(&h, doc("netsuite", EntityKind::Variant, "1201", &item));
    assert_eq!(fields(&back[0]), small);
    assert!(commands(&h, req("netsuite", rs[0].clone(), Some(&item))).is_empty());
    assert!(commands(&h, req("shopify", back[0].clone(), Some(&tee()))).is_empty());
    // Once the child names its parent, the parent is not written again.
    let mut changed = rs[0].clone();
    let mut f = fields(&changed);
    f["barcode"] = json!("123");
    changed.fields = f.to_string();
    let b = body(&commands(&h, req("netsuite", changed, Some(&item)))[0]);
    assert!(b.get("weft:parent").is_none(), "{b}");
}

#[test]
fn a_matrix_parent_is_not_a_variant_and_unmapped_options_are_config_errors() {
    let h = harness();
    let parent = json!({"id": "500", "itemId": "WEB-tee", "matrixType": "PARENT",
                        "displayName": "Tee", "isInactive": false});
    assert!(matches!(
        h.to_canonical(vec![doc("netsuite", EntityKind::Variant, "500", &parent)]).unwrap().remove(0),
        ToCanonicalOutcome::Skipped(m) if m.contains("matrix parent")
    ));
    let child = json!({"id": "501", "itemId": "WEB-TEE-S", "matrixType": "CHILD",
                       "parent": {"id": "500", "refName": "WEB-tee"},
                       "matrixOptioncustitem_fit": {"id": "1", "refName": "Slim"}});
    assert!(matches!(
        h.to_canonical(vec![doc("netsuite", EntityKind::Variant, "501", &child)]).unwrap().remove(0),
        ToCanonicalOutcome::Failed(ItemError::Config(m)) if m.contains("custitem_fit")
    ));
}

#[test]
fn a_size_added_in_the_erp_joins_the_shopify_product_by_handle() {
    let h = harness();
    let child = json!({"id": "502", "itemId": "WEB-TEE-L-W", "externalId": "item-TEE-L-W",
        "displayName": "Tee", "isInactive": false, "basePrice": 21.0, "matrixType": "CHILD",
        "parent": {"id": "500", "refName": "WEB-tee"},
        "matrixOptioncustitem_size": {"id": "3", "refName": "L"},
        "matrixOptioncustitem_colour": {"id": "1", "refName": "White"}});
    let rs = records(&h, doc("netsuite", EntityKind::Variant, "502", &child));
    // The variant is not in Shopify yet: weft knows no product id for it.
    let b = body(&commands(&h, req("shopify", rs[0].clone(), None))[0]);
    assert_eq!(b["handle"], "tee");
    assert_eq!(b["options"], json!([{"name": "Colour"}, {"name": "Size"}]));
    assert_eq!(
        b["variants"][0]["option_values"],
        json!({"Size": "L", "Colour": "White"})
    );
    assert!(b.get("id").is_none());
}

#[test]
fn an_option_value_retired_in_the_erp_leaves_the_shopify_product() {
    let h = harness();
    let rs = records(&h, doc("shopify", EntityKind::Product, "88", &tee()));
    let mut retired = rs[0].clone();
    let mut f = fields(&retired);
    f["active"] = json!(false);
    retired.fields = f.to_string();
    let b = body(&commands(&h, req("shopify", retired.clone(), Some(&tee())))[0]);
    assert_eq!(b["id"], "88");
    assert_eq!(
        b["variants"],
        json!([{"id": "1", "sku": "TEE-S-W", "retired": true}])
    );
    // Its last variant is not retired: the product is archived instead.
    let mut one = tee();
    one["variants"].as_array_mut().unwrap().truncate(1);
    let b = body(&commands(&h, req("shopify", retired.clone(), Some(&one)))[0]);
    assert_eq!(b["status"], "archived");
    assert!(b["variants"][0].get("retired").is_none());
    // Already gone from Shopify: nothing to do.
    let mut gone = tee();
    gone["variants"].as_array_mut().unwrap().remove(0);
    assert!(commands(&h, req("shopify", retired, Some(&gone))).is_empty());
    // A renamed value travels as the variant's option value.
    let mut renamed = rs[2].clone();
    let mut f = fields(&renamed);
    f["option_values"]["Size"] = json!("Medium");
    renamed.fields = f.to_string();
    let b = body(&commands(&h, req("shopify", renamed, Some(&tee())))[0]);
    assert_eq!(
        b["variants"][0]["option_values"],
        json!({"Size": "Medium", "Colour": "White"})
    );
}

#[test]
fn a_webhook_without_seo_or_metafields_leaves_them_out_and_a_record_without_them_keeps_them() {
    let h = harness();
    let mut hook = tee();
    hook.as_object_mut().unwrap().remove("seo");
    hook.as_object_mut().unwrap().remove("metafields");
    hook.as_object_mut().unwrap().remove("category");
    let rs = records(&h, doc("shopify", EntityKind::Product, "88", &hook));
    let f = fields(&rs[0]);
    for absent in ["seo_title", "seo_description", "custom", "category"] {
        assert!(f.get(absent).is_none(), "{absent} in {f}");
    }
    // A record without them (a webhook's, or a golden record older than the fields) writes
    // NetSuite's other fields and leaves these alone.
    let b = body(&commands(&h, req("netsuite", rs[0].clone(), None))[0]);
    for untouched in [
        "pageTitle",
        "storeDescription",
        "custitem_material",
        "custitem_web_category",
    ] {
        assert!(b.get(untouched).is_none(), "{untouched} in {b}");
    }
    let mut old = Map::new();
    for k in ["sku", "title", "description", "vendor", "barcode", "active"] {
        old.insert(k.into(), f[k].clone());
    }
    let old = CanonicalRecord {
        kind: EntityKind::Variant,
        key: "TEE-S-W".into(),
        fields: Value::Object(old).to_string(),
    };
    // Against Shopify's product, which holds the same basics: nothing to write.
    assert!(commands(&h, req("shopify", old.clone(), Some(&tee()))).is_empty());
    let b = body(&commands(&h, req("netsuite", old, None))[0]);
    for untouched in [
        "custitem_web_tags",
        "weight",
        "custitem_web_images",
        "matrixType",
    ] {
        assert!(b.get(untouched).is_none(), "{untouched} in {b}");
    }
}

#[test]
fn custom_fields_and_images_reach_shopify_as_metafields_and_files() {
    let h = harness();
    let item = json!({"id": "1", "externalId": "item-CUP", "itemId": "WEB-CUP",
        "displayName": "Cup", "isInactive": false, "basePrice": 5.0,
        "custitem_web_product_type": "Kitchen", "custitem_web_tags": "blue, gift",
        "custitem_web_images": "[{\"url\": \"https://cdn.example.com/cup.jpg\", \"alt\": \"Cup\"}]",
        "weight": 300, "weightUnit": {"id": "4", "refName": "g"},
        "pageTitle": "Blue cup", "custitem_material": "Stoneware"});
    let rs = records(&h, doc("netsuite", EntityKind::Variant, "1", &item));
    let b = body(&commands(&h, req("shopify", rs[0].clone(), None))[0]);
    assert_eq!(b["product_type"], "Kitchen");
    assert_eq!(b["tags"], "blue, gift");
    assert_eq!(
        b["images"],
        json!([{"url": "https://cdn.example.com/cup.jpg", "alt": "Cup"}])
    );
    assert_eq!(b["seo"], json!({"title": "Blue cup", "description": null}));
    assert_eq!(
        b["metafields"],
        json!([
            {"namespace": "custom", "key": "care", "type": "single_line_text_field", "value": null},
            {"namespace": "custom", "key": "material", "type": "single_line_text_field", "value": "Stoneware"}
        ])
    );
    assert_eq!(b["variants"][0]["weight"], "300.00");
    assert_eq!(b["variants"][0]["weight_unit"], "g");
    assert!(
        b.get("handle").is_none(),
        "no options: a product of its own"
    );
}

#[test]
fn customer_addresses_travel_as_the_address_book() {
    let h = harness();
    let c = json!({"id": "7001", "email": "ada@example.com", "first_name": "Ada",
    "last_name": "Lovelace", "phone": null, "tags": "", "updated_at": V,
    "addresses": [
        {"first_name": "Ada", "last_name": "King", "company": null, "address1": "1 Row",
         "address2": null, "city": "London", "province_code": null, "country_code": "GB",
         "zip": "W1", "phone": null, "default": false},
        {"first_name": "Mary Ann", "last_name": "Smith", "company": "Engines Ltd",
         "address1": "12 Square", "address2": "Floor 2", "city": "London",
         "province_code": null, "country_code": "GB", "zip": "SW1", "phone": "+4420",
         "default": true},
        {"first_name": null, "last_name": null, "company": "Depot", "address1": "3 Dock",
         "address2": null, "city": "Leeds", "province_code": null, "country_code": "GB",
         "zip": "LS1", "phone": null, "default": false}
    ]});
    let rs = records(&h, doc("shopify", EntityKind::Customer, "7001", &c));
    let f = fields(&rs[0]);
    assert_eq!(
        f["addresses"][0]["name"], "Mary Ann Smith",
        "the default first"
    );
    assert_eq!(f["addresses"][0]["company"], "Engines Ltd");
    assert_eq!(f["addresses"][1]["name"], "Ada King");
    let b = body(&commands(&h, req("netsuite", rs[0].clone(), None))[0]);
    let book = &b["addressBook"]["items"];
    assert_eq!(book[0]["defaultShipping"], true);
    assert_eq!(book[0]["defaultBilling"], true);
    assert_eq!(book[1]["defaultShipping"], false);
    assert_eq!(
        book[0]["addressBookAddress"]["addressee"], "Engines Ltd",
        "the company is the addressee"
    );
    assert_eq!(book[0]["addressBookAddress"]["attention"], "Mary Ann Smith");
    assert_eq!(book[2]["isResidential"], false);
    // NetSuite's customer maps back to the same record (the company-only address stays one).
    let ns = json!({"id": "301", "externalId": "shopify-customer-7001", "firstName": "Ada",
        "lastName": "Lovelace", "email": "ada@example.com", "addressBook": b["addressBook"]});
    let back = records(&h, doc("netsuite", EntityKind::Customer, "301", &ns));
    assert_eq!(fields(&back[0]), f);
    assert!(commands(&h, req("netsuite", rs[0].clone(), Some(&ns))).is_empty());
    // To Shopify: the default first, names split at the last word.
    let b = body(&commands(&h, req("shopify", back[0].clone(), None))[0]);
    assert_eq!(b["addresses"][0]["first_name"], "Mary Ann");
    assert_eq!(b["addresses"][0]["last_name"], "Smith");
    assert!(commands(&h, req("shopify", back[0].clone(), Some(&c))).is_empty());
    // A golden record older than addresses keeps NetSuite's address book.
    let old = CanonicalRecord {
        kind: EntityKind::Customer,
        key: "7001".into(),
        fields: json!({"email": "new@example.com", "first_name": "Ada", "last_name": "Lovelace",
                       "phone": null})
        .to_string(),
    };
    let b = body(&commands(&h, req("netsuite", old, Some(&ns)))[0]);
    assert_eq!(b["addressBook"]["items"].as_array().unwrap().len(), 3);
}

#[test]
fn customer_tags_tax_exemption_and_consent_travel_both_ways() {
    let h = harness();
    let c = json!({"id": "7002", "email": "grace@example.com", "first_name": "Grace",
        "last_name": "Hopper", "phone": null, "tags": "wholesale, vip", "tax_exempt": true,
        "email_marketing": "subscribed", "updated_at": V,
        "addresses": [{"first_name": "Grace", "last_name": "Hopper", "company": "Navy Ltd",
            "address1": "1 Yard", "address2": null, "city": "Arlington", "province_code": "VA",
            "country_code": "US", "zip": "22201", "phone": null, "default": true}]});
    let rs = records(&h, doc("shopify", EntityKind::Customer, "7002", &c));
    let f = fields(&rs[0]);
    assert_eq!(f["tags"], json!(["vip", "wholesale"]));
    assert_eq!(f["tax_exempt"], true);
    assert_eq!(f["email_marketing"], "subscribed");
    // To NetSuite: the custom entity field, taxable inverted, the confirmed opt-in, and the
    // default address's company as the customer's company.
    let b = body(&commands(&h, req("netsuite", rs[0].clone(), None))[0]);
    assert_eq!(b["custentity_web_tags"], "vip, wholesale");
    assert_eq!(b["taxable"], false);
    assert_eq!(b["globalSubscriptionStatus"], json!({"id": "3"}));
    assert_eq!(b["companyName"], "Navy Ltd");
    // NetSuite's record (as the REST API renders it) maps back to the same fields.
    let mut ns = b.clone();
    ns["id"] = json!("302");
    ns["globalSubscriptionStatus"] = json!({"id": "3", "refName": "Confirmed Opt-In"});
    let back = records(&h, doc("netsuite", EntityKind::Customer, "302", &ns));
    assert_eq!(fields(&back[0]), f);
    assert!(commands(&h, req("netsuite", rs[0].clone(), Some(&ns))).is_empty());
    // Each NetSuite status is one canonical state.
    for (id, state) in [
        ("1", "pending"),
        ("2", "not_subscribed"),
        ("3", "subscribed"),
        ("4", "unsubscribed"),
    ] {
        ns["globalSubscriptionStatus"] = json!({"id": id});
        let r = records(&h, doc("netsuite", EntityKind::Customer, "302", &ns));
        assert_eq!(fields(&r[0])["email_marketing"], state);
    }
    // NetSuite unsubscribes her and drops a tag: Shopify gets the tags and the consent change.
    ns["globalSubscriptionStatus"] = json!({"id": "4"});
    ns["custentity_web_tags"] = json!("vip");
    ns["taxable"] = json!(true);
    let changed = records(&h, doc("netsuite", EntityKind::Customer, "302", &ns));
    let b = body(&commands(&h, req("shopify", changed[0].clone(), Some(&c)))[0]);
    assert_eq!(b["tags"], "vip");
    assert_eq!(b["tax_exempt"], false);
    assert_eq!(b["email_marketing"], "unsubscribed");
    // Shopify's API cannot set "not subscribed": a customer who had subscribed becomes
    // unsubscribed, one already unsubscribed is left alone (no write at all).
    ns["globalSubscriptionStatus"] = json!({"id": "2"});
    ns["custentity_web_tags"] = json!("wholesale, vip");
    ns["taxable"] = json!(false);
    let soft = records(&h, doc("netsuite", EntityKind::Customer, "302", &ns));
    let b = body(&commands(&h, req("shopify", soft[0].clone(), Some(&c)))[0]);
    assert_eq!(b["email_marketing"], "unsubscribed");
    let mut unsubscribed = c.clone();
    unsubscribed["email_marketing"] = json!("unsubscribed");
    assert!(commands(&h, req("shopify", soft[0].clone(), Some(&unsubscribed))).is_empty());
    // Consent Shopify keeps to itself (redacted, invalid) reads as unsubscribed.
    let mut redacted = c.clone();
    redacted["email_marketing"] = json!("redacted");
    let r = records(&h, doc("shopify", EntityKind::Customer, "7002", &redacted));
    assert_eq!(fields(&r[0])["email_marketing"], "unsubscribed");
    // Without an email address no consent is written.
    let mut no_email = rs[0].clone();
    let mut nf = f.clone();
    nf["email"] = Value::Null;
    no_email.fields = nf.to_string();
    let b = body(&commands(&h, req("shopify", no_email, None))[0]);
    assert!(b.get("email_marketing").is_none(), "{b}");
    // A golden record older than these fields leaves them alone on both sides.
    let old = CanonicalRecord {
        kind: EntityKind::Customer,
        key: "7002".into(),
        fields: json!({"email": "g@example.com", "first_name": "Grace", "last_name": "Hopper",
                       "phone": null})
        .to_string(),
    };
    let b = body(&commands(&h, req("netsuite", old.clone(), Some(&ns)))[0]);
    for k in ["custentity_web_tags", "taxable", "globalSubscriptionStatus"] {
        assert!(b.get(k).is_none(), "{k} in {b}");
    }
    let b = body(&commands(&h, req("shopify", old, Some(&c)))[0]);
    for k in ["tags", "tax_exempt", "email_marketing"] {
        assert!(b.get(k).is_none(), "{k} in {b}");
    }
}

#[test]
fn a_configured_price_level_is_the_storefront_price_and_other_lines_are_kept() {
    let h = Harness::new(ShopifyNetsuite).with_config(json!({
        "sku_prefix": "WEB-", "price_level": "5", "currency": 2,
    }));
    let line = |currency: &str, level: &str, price: f64| {
        json!({"links": [], "currencyPage": {"id": currency, "refName": "x"},
               "priceLevel": {"id": level, "refName": "y"}, "quantity": {"value": 0},
               "price": price})
    };
    let item = json!({"id": "1", "externalId": "item-CUP", "itemId": "WEB-CUP",
        "displayName": "Cup", "isInactive": false, "basePrice": 5.0,
        "price": {"items": [line("1", "1", 5.0), line("1", "5", 4.5), line("2", "5", 3.9)]}});
    let rs = records(&h, doc("netsuite", EntityKind::Variant, "1", &item));
    assert_eq!(fields(&rs[1])["price"], "3.90", "Online Price in GBP");
    assert!(commands(&h, req("netsuite", rs[1].clone(), Some(&item))).is_empty());
    let mut new_price = rs[1].clone();
    new_price.fields = json!({"sku": "CUP", "price": "4.20", "compare_at_price": null}).to_string();
    let b = body(&commands(&h, req("netsuite", new_price.clone(), Some(&item)))[0]);
    assert!(b.get("basePrice").is_none(), "{b}");
    assert_eq!(
        b["price"]["items"],
        json!([
            {"currencyPage": {"id": "1"}, "priceLevel": {"id": "1"}, "quantity": {"value": 0}, "price": 5.0},
            {"currencyPage": {"id": "1"}, "priceLevel": {"id": "5"}, "quantity": {"value": 0}, "price": 4.5},
            {"currencyPage": {"id": "2"}, "priceLevel": {"id": "5"}, "quantity": {"value": 0}, "price": 4.2}
        ])
    );
    // An item without that line gets one.
    let mut bare = item.clone();
    bare["price"] = json!({"items": [line("1", "1", 5.0)]});
    let b = body(&commands(&h, req("netsuite", new_price, Some(&bare)))[0]);
    assert_eq!(b["price"]["items"].as_array().unwrap().len(), 2);
    // A currency without a price level is a config error.
    let h = Harness::new(ShopifyNetsuite).with_config(json!({"currency": "2"}));
    assert!(
        h.to_canonical(vec![doc("netsuite", EntityKind::Variant, "1", &item)])
            .is_err()
    );
}

#[test]
fn a_second_currency_is_a_pricing_matrix_line_and_a_price_lists_fixed_price() {
    let h = Harness::new(ShopifyNetsuite).with_config(json!({
        "sku_prefix": "WEB-", "currencies": {"EUR": "3", "CAD": 4},
    }));
    let line = |currency: &str, level: &str, price: f64| {
        json!({"links": [], "currencyPage": {"id": currency, "refName": "x"},
               "priceLevel": {"id": level, "refName": "y"}, "quantity": {"value": 0},
               "price": price})
    };
    // NetSuite: the Base Price level's line of each currency; a currency without one is none.
    let item = json!({"id": "1", "externalId": "item-CUP", "itemId": "WEB-CUP",
        "displayName": "Cup", "isInactive": false, "basePrice": 5.0,
        "price": {"items": [line("1", "1", 5.0), line("3", "1", 4.6), line("3", "5", 4.1)]}});
    let rs = records(&h, doc("netsuite", EntityKind::Variant, "1", &item));
    let erp = fields(&rs[1]);
    assert_eq!(erp["price"], "5.00");
    assert_eq!(erp["currencies"], json!({"CAD": null, "EUR": "4.60"}));
    // Shopify: a read carries each currency's fixed prices by variant id; a webhook does not,
    // and its record leaves the other currencies out (not "none").
    let product = |lists: Option<Value>| {
        let mut p = json!({"id": "88", "title": "Cup", "status": "active", "options": [],
            "variants": [{"id": "701", "sku": "CUP", "price": "5.00", "compare_at_price": null}]});
        if let Some(l) = lists {
            p["price_lists"] = l;
        }
        p
    };
    let read = product(Some(json!({
        "EUR": {"701": {"price": "4.20", "compare_at_price": "6.00"}},
        "CAD": {}
    })));
    let shop = fields(&records(&h, doc("shopify", EntityKind::Product, "88", &read))[1]);
    assert_eq!(shop["currencies"], json!({"CAD": null, "EUR": "4.20"}));
    let hook = fields(
        &records(
            &h,
            doc("shopify", EntityKind::Product, "88", &product(None)),
        )[1],
    );
    assert!(hook.get("currencies").is_none(), "{hook}");
    // A document that lacks a mapped currency's list (the connector does not sync it) carries
    // none of them.
    let partial = product(Some(json!({"EUR": {}})));
    let shop = fields(&records(&h, doc("shopify", EntityKind::Product, "88", &partial))[1]);
    assert!(shop.get("currencies").is_none(), "{shop}");
    // To Shopify: only the currency that differs, keeping the list's compare-at price.
    let b = body(&commands(&h, req("shopify", rs[1].clone(), Some(&read)))[0]);
    assert_eq!(
        b["variants"][0]["price_lists"],
        json!({"EUR": {"price": "4.60", "compare_at_price": "6.00"}})
    );
    // Equal everywhere: nothing to write; a record without currencies leaves them alone.
    let mut same = rs[1].clone();
    same.fields = json!({"sku": "CUP", "price": "5.00", "compare_at_price": null,
        "currencies": {"CAD": null, "EUR": "4.20"}})
    .to_string();
    assert!(commands(&h, req("shopify", same.clone(), Some(&read))).is_empty());
    let mut without = rs[1].clone();
    without.fields = json!({"sku": "CUP", "price": "5.00", "compare_at_price": null}).to_string();
    assert!(commands(&h, req("shopify", without, Some(&read))).is_empty());
    // A document that did not carry the lists: every currency is written.
    let b = body(&commands(&h, req("shopify", same.clone(), Some(&product(None))))[0]);
    assert_eq!(
        b["variants"][0]["price_lists"],
        json!({"CAD": {"price": null, "compare_at_price": null},
               "EUR": {"price": "4.20", "compare_at_price": null}})
    );
    // To NetSuite: each currency's Base Price line set, one without a price dropped, the other
    // lines kept.
    let mut shop_record = rs[1].clone();
    shop_record.fields = json!({"sku": "CUP", "price": "5.00", "compare_at_price": null,
        "currencies": {"CAD": "7.10", "EUR": null}})
    .to_string();
    let b = body(&commands(&h, req("netsuite", shop_record, Some(&item)))[0]);
    assert_eq!(
        b["price"]["items"],
        json!([
            {"currencyPage": {"id": "1"}, "priceLevel": {"id": "1"}, "quantity": {"value": 0}, "price": 5.0},
            {"currencyPage": {"id": "3"}, "priceLevel": {"id": "5"}, "quantity": {"value": 0}, "price": 4.1},
            {"currencyPage": {"id": "4"}, "priceLevel": {"id": "1"}, "quantity": {"value": 0}, "price": 7.1}
        ])
    );
    assert_eq!(b["basePrice"], 5.0);
    assert!(commands(&h, req("netsuite", rs[1].clone(), Some(&item))).is_empty());
    // Config: ISO codes only, and not the storefront's own currency.
    for bad in [
        json!({"currencies": {"euro": "3"}}),
        json!({"currencies": {"USD": "1"}}),
        json!({"price_level": "5", "currency": "3", "currencies": {"EUR": "3"}}),
        json!({"currencies": {"EUR": "3", "GBP": "3"}}),
    ] {
        let h = Harness::new(ShopifyNetsuite).with_config(bad.clone());
        assert!(
            h.to_canonical(vec![doc("netsuite", EntityKind::Variant, "1", &item)])
                .is_err(),
            "{bad}"
        );
    }
}

#[test]
fn collections_sync_only_where_the_config_maps_them() {
    let cfg = json!({"sku_prefix": "WEB-", "collections_field": "custitem_web_collections"});
    let h = Harness::new(ShopifyNetsuite).with_config(cfg.clone());
    let product = |collections: Option<Value>| {
        let mut p = json!({"id": "88", "title": "Cup", "status": "active", "options": [],
            "variants": [{"id": "701", "sku": "CUP", "price": "5.00", "compare_at_price": null}]});
        if let Some(c) = collections {
            p["collections"] = c;
        }
        p
    };
    // Shopify: a read's handles, sorted; a webhook's record leaves them out (not "none").
    let read = product(Some(json!(["tees", "summer"])));
    let shop = fields(&records(&h, doc("shopify", EntityKind::Product, "88", &read))[0]);
    assert_eq!(shop["collections"], json!(["summer", "tees"]));
    let hook = fields(
        &records(
            &h,
            doc("shopify", EntityKind::Product, "88", &product(None)),
        )[0],
    );
    assert!(hook.get("collections").is_none(), "{hook}");
    let none = fields(
        &records(
            &h,
            doc(
                "shopify",
                EntityKind::Product,
                "88",
                &product(Some(json!([]))),
            ),
        )[0],
    );
    assert_eq!(none["collections"], json!([]));
    // NetSuite: the configured field, comma-separated; empty is no collection.
    let item = |text: Value| {
        json!({"id": "1", "externalId": "item-CUP", "itemId": "WEB-CUP", "displayName": "Cup",
               "isInactive": false, "basePrice": 5.0, "custitem_web_collections": text})
    };
    let erp = fields(
        &records(
            &h,
            doc(
                "netsuite",
                EntityKind::Variant,
                "1",
                &item(json!("tees, summer")),
            ),
        )[0],
    );
    assert_eq!(erp["collections"], json!(["summer", "tees"]));
    let erp_none = fields(
        &records(
            &h,
            doc("netsuite", EntityKind::Variant, "1", &item(Value::Null)),
        )[0],
    );
    assert_eq!(erp_none["collections"], json!([]));
    // Writes: the list to Shopify, the joined text to NetSuite (null for none).
    let mut r = records(
        &h,
        doc("netsuite", EntityKind::Variant, "1", &item(json!("sale"))),
    )[0]
    .clone();
    let b = body(&commands(&h, req("shopify", r.clone(), Some(&read)))[0]);
    assert_eq!(b["collections"], json!(["sale"]));
    let mut f = fields(&r);
    f["collections"] = json!([]);
    r.fields = f.to_string();
    let b = body(&commands(&h, req("netsuite", r, Some(&item(json!("sale")))))[0]);
    assert_eq!(b["custitem_web_collections"], Value::Null);
    // Not mapped: neither side's records carry them and no write touches them.
    let plain = harness();
    let shop = fields(&records(&plain, doc("shopify", EntityKind::Product, "88", &read))[0]);
    assert!(shop.get("collections").is_none(), "{shop}");
    // Config: a custom item field not used for anything else.
    for bad in [
        json!({"collections_field": "collections"}),
        json!({"collections_field": "custitem_web_tags"}),
        json!({"collections_field": "custitem_material", "custom_fields": {"material": "custitem_material"}}),
    ] {
        let h = Harness::new(ShopifyNetsuite).with_config(bad.clone());
        assert!(
            h.to_canonical(vec![doc("shopify", EntityKind::Product, "88", &read)])
                .is_err(),
            "{bad}"
        );
    }
}

#[test]
fn only_the_first_variant_of_a_product_with_options_writes_its_product_level_fields() {
    let h = harness();
    let rs = records(&h, doc("shopify", EntityKind::Product, "88", &tee()));
    // Every variant reads the product's fields.
    assert_eq!(fields(&rs[0])["description"], "<p>Cotton.</p>");
    assert_eq!(fields(&rs[2])["description"], "<p>Cotton.</p>");
    let with = |r: &CanonicalRecord, f: &str, v: Value| {
        let mut r = r.clone();
        let mut fs = fields(&r);
        fs[f] = v;
        r.fields = fs.to_string();
        r
    };
    // The second variant's record holds another description (an ERP child read before its
    // siblings, say): it does not write the product's, whatever it holds.
    let second = with(&rs[2], "description", json!("<p>Older.</p>"));
    assert!(commands(&h, req("shopify", second.clone(), Some(&tee()))).is_empty());
    let second = with(&second, "barcode", json!("123"));
    let b = body(&commands(&h, req("shopify", second, Some(&tee())))[0]);
    for product_level in [
        "title",
        "body_html",
        "vendor",
        "product_type",
        "tags",
        "images",
        "seo",
        "category",
        "metafields",
    ] {
        assert!(b.get(product_level).is_none(), "{product_level} in {b}");
    }
    assert_eq!(b["variants"][0]["barcode"], "123");
    // The first variant's record writes them.
    let first = with(&rs[0], "description", json!("<p>Newer.</p>"));
    let b = body(&commands(&h, req("shopify", first, Some(&tee())))[0]);
    assert_eq!(b["body_html"], "<p>Newer.</p>");
    assert_eq!(b["title"], "Tee");
}
