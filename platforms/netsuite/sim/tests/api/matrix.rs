//! Matrix items (a parent, children with matrix option values), catalog fields of items and
//! the customer address book, as a client drives them over HTTP.

use crate::common::{REC, config, id_of, start};
use serde_json::json;

#[tokio::test]
async fn matrix_children_name_a_parent_and_one_combination_each() {
    let h = start(config(7)).await;
    let c = &h.client;
    let r = c
        .put(
            &format!("{REC}/inventoryItem/eid:product-tee"),
            &json!({"itemId": "WEB-tee", "displayName": "Tee", "matrixType": "PARENT"}),
        )
        .await;
    assert_eq!(r.status, 204, "{:?}", r.body);
    let child = |sku: &str, size: &str| {
        json!({"itemId": sku, "displayName": "Tee", "matrixType": "CHILD",
               "parent": {"externalId": "product-tee"},
               "matrixOptioncustitem_size": {"refName": size},
               "matrixOptioncustitem_colour": {"refName": "White"},
               "weight": 0.25, "weightUnit": {"id": "3"}, "pageTitle": "Cotton tee"})
    };
    let r = c
        .put(
            &format!("{REC}/inventoryItem/eid:item-TEE-S"),
            &child("WEB-TEE-S", "S"),
        )
        .await;
    assert_eq!(r.status, 204, "{:?}", r.body);
    let got = c
        .get(&format!("{REC}/inventoryItem/eid:item-TEE-S"))
        .await
        .body;
    assert_eq!(got["matrixType"], "CHILD");
    assert_eq!(got["parent"]["refName"], "WEB-tee");
    assert_eq!(got["matrixOptioncustitem_size"]["refName"], "S");
    assert_eq!(got["matrixOptioncustitem_size"]["id"], "1");
    assert_eq!(got["weightUnit"]["refName"], "kg");
    assert_eq!(got["pageTitle"], "Cotton tee");

    // The same combination twice is refused; a new value extends the option's list.
    let r = c
        .put(
            &format!("{REC}/inventoryItem/eid:item-TEE-S2"),
            &child("WEB-TEE-S2", "S"),
        )
        .await;
    assert_eq!(
        (r.status, r.code()),
        (400, "DUP_MATRIX_OPTN_ABBRV"),
        "{:?}",
        r.body
    );
    let r = c
        .post(&format!("{REC}/inventoryItem"), &child("WEB-TEE-XL", "XL"))
        .await;
    assert_eq!(r.status, 204, "{:?}", r.body);
    let xl = c
        .get(&format!("{REC}/inventoryItem/{}", id_of(&r.location)))
        .await
        .body;
    assert_eq!(
        xl["matrixOptioncustitem_size"],
        json!({"id": "2", "refName": "XL"})
    );
    // By id: an existing value of the option.
    let mut by_id = child("WEB-TEE-M", "");
    by_id["matrixOptioncustitem_size"] = json!({"id": "2"});
    let r = c.post(&format!("{REC}/inventoryItem"), &by_id).await;
    assert_eq!(
        (r.status, r.code()),
        (400, "DUP_MATRIX_OPTN_ABBRV"),
        "{:?}",
        r.body
    );

    // A child of an item that is not a parent, and a child without options.
    let mut orphan = child("WEB-X", "S");
    orphan["parent"] = json!({"id": xl["id"]});
    let r = c.post(&format!("{REC}/inventoryItem"), &orphan).await;
    assert_eq!(
        (r.status, r.code()),
        (400, "INVALID_MATRIX_PARENT"),
        "{:?}",
        r.body
    );
    let bare = json!({"itemId": "WEB-Y", "matrixType": "CHILD",
                      "parent": {"externalId": "product-tee"}});
    let r = c.post(&format!("{REC}/inventoryItem"), &bare).await;
    assert_eq!((r.status, r.code()), (400, "USER_ERROR"), "{:?}", r.body);
    let stray = json!({"itemId": "WEB-Z", "matrixOptioncustitem_size": {"refName": "S"}});
    let r = c.post(&format!("{REC}/inventoryItem"), &stray).await;
    assert_eq!(r.status, 400, "{:?}", r.body);

    // SuiteQL sees the matrix.
    let r = c
        .suiteql(
            "SELECT itemid, matrixtype FROM item WHERE parent IS NOT NULL ORDER BY itemid",
            100,
            0,
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let ids: Vec<&str> = r.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["itemid"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["WEB-TEE-S", "WEB-TEE-XL"]);
}

#[tokio::test]
async fn the_address_book_keeps_one_default_of_each_kind() {
    let h = start(config(8)).await;
    let c = &h.client;
    let line = |city: &str, default: bool| {
        json!({"defaultBilling": default, "defaultShipping": default, "isResidential": true,
               "addressBookAddress": {"addressee": "Ada Lovelace", "addr1": "1 Row",
                                      "city": city, "country": "GB"}})
    };
    let body = json!({"firstName": "Ada", "lastName": "Lovelace",
        "addressBook": {"items": [line("London", true), line("Leeds", false), line("York", true)]}});
    let r = c
        .put(&format!("{REC}/customer/eid:shopify-customer-1"), &body)
        .await;
    assert_eq!(r.status, 204, "{:?}", r.body);
    let got = c
        .get(&format!(
            "{REC}/customer/eid:shopify-customer-1?expandSubResources=true"
        ))
        .await
        .body;
    let items = got["addressBook"]["items"].as_array().unwrap();
    assert_eq!(items.len(), 3);
    let defaults: Vec<bool> = items
        .iter()
        .map(|l| l["defaultShipping"].as_bool().unwrap())
        .collect();
    assert_eq!(defaults, [false, false, true], "the later default wins");
    assert_eq!(items[2]["addressBookAddress"]["city"], "York");
    let mut bad = body.clone();
    bad["addressBook"]["items"][0]["addressBookAddress"]["country"] = json!("Britain");
    let r = c
        .put(&format!("{REC}/customer/eid:shopify-customer-1"), &bad)
        .await;
    assert_eq!(
        (r.status, r.code()),
        (400, "INVALID_FLD_VALUE"),
        "{:?}",
        r.body
    );
}

#[tokio::test]
async fn customers_are_taxable_and_soft_opted_out_until_told_otherwise() {
    let h = start(config(8)).await;
    let c = &h.client;
    let url = format!("{REC}/customer/eid:shopify-customer-2");
    let r = c.put(&url, &json!({"firstName": "Kim"})).await;
    assert_eq!(r.status, 204, "{:?}", r.body);
    let got = c.get(&url).await.body;
    assert_eq!(got["taxable"], true);
    assert_eq!(
        got["globalSubscriptionStatus"],
        json!({"id": "2", "refName": "Soft Opt-Out"})
    );
    let r = c
        .put(
            &url,
            &json!({"firstName": "Kim", "taxable": false, "custentity_web_tags": "vip",
                    "globalSubscriptionStatus": {"id": "3"}}),
        )
        .await;
    assert_eq!(r.status, 204, "{:?}", r.body);
    let got = c.get(&url).await.body;
    assert_eq!(got["taxable"], false);
    assert_eq!(
        got["globalSubscriptionStatus"]["refName"],
        "Confirmed Opt-In"
    );
    assert_eq!(got["custentity_web_tags"], "vip");
    for bad in [json!({"id": "9"}), json!("3")] {
        let r = c
            .put(
                &url,
                &json!({"firstName": "Kim", "globalSubscriptionStatus": bad}),
            )
            .await;
        assert_eq!(r.status, 400, "{bad}: {:?}", r.body);
    }
}

#[tokio::test]
async fn the_pricing_matrix_has_one_price_per_currency_level_and_quantity() {
    let h = start(config(9)).await;
    let c = &h.client;
    let line = |currency: &str, level: &str, price: f64| {
        json!({"currencyPage": {"id": currency}, "priceLevel": {"id": level},
               "quantity": {"value": 0}, "price": price})
    };
    let body = json!({"itemId": "WEB-CUP", "basePrice": 5.0, "price": {"items": [
        line("1", "1", 5.0), line("1", "5", 4.5), line("2", "5", 3.9)]}});
    let r = c
        .put(&format!("{REC}/inventoryItem/eid:item-CUP"), &body)
        .await;
    assert_eq!(r.status, 204, "{:?}", r.body);
    let got = c
        .get(&format!(
            "{REC}/inventoryItem/eid:item-CUP?expandSubResources=true"
        ))
        .await
        .body;
    let lines = got["price"]["items"].as_array().unwrap();
    assert_eq!(lines.len(), 3);
    assert_eq!(lines[2]["currencyPage"]["refName"], "GBP");
    assert_eq!(lines[2]["priceLevel"]["refName"], "Online Price");
    assert_eq!(lines[2]["price"], json!(3.9));
    assert_eq!(lines[0]["quantity"], json!({"value": 0}));
    let mut dup = body.clone();
    dup["price"]["items"][2] = line("1", "5", 4.0);
    let r = c
        .put(&format!("{REC}/inventoryItem/eid:item-CUP"), &dup)
        .await;
    assert_eq!(
        (r.status, r.code()),
        (400, "INVALID_FLD_VALUE"),
        "{:?}",
        r.body
    );
    let mut unknown = body;
    unknown["price"]["items"][0]["priceLevel"] = json!({"id": "9"});
    let r = c
        .put(&format!("{REC}/inventoryItem/eid:item-CUP"), &unknown)
        .await;
    assert_eq!(
        (r.status, r.code()),
        (400, "INVALID_KEY_OR_REF"),
        "{:?}",
        r.body
    );
}
