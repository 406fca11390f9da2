use super::*;

#[test]
fn money_must_be_plain_decimal_notation() {
    assert_eq!(parse_money("25.99").unwrap().to_string(), "25.99");
    assert_eq!(parse_money("0").unwrap().to_string(), "0");
    assert_eq!(
        parse_money("9999999999.99").unwrap().to_string(),
        "9999999999.99"
    );
    for bad in [
        "",
        "-1",
        "1.",
        "1.234",
        "+1",
        "12345678901",
        "1e3",
        "abc",
        "1.2.3",
        " 1",
        ".",
        "-",
        "0x10",
        "25.990000000000000000000000000001",
        "٣",
    ] {
        assert_eq!(parse_money(bad), None, "{bad:?}");
    }
}

#[test]
fn a_quantity_is_any_integral_json_number() {
    let quantity = |json: &str| {
        let item = format!(r#"{{"product_id":"p","quantity":{json},"unit_price":"1"}}"#);
        serde_json::from_str::<ItemBody>(&item).map(|i| i.quantity)
    };
    assert_eq!(quantity("63").unwrap(), 63);
    assert_eq!(quantity("63.0").unwrap(), 63);
    assert_eq!(quantity("-2e0").unwrap(), -2);
    for bad in ["1.5", "1e300", "9223372036854775808", "\"3\"", "null"] {
        assert!(quantity(bad).is_err(), "{bad}");
    }
}

#[test]
fn unreadable_quantities_and_prices_are_all_reported() {
    let body: PlaceOrderBody = serde_json::from_str(
        r#"{"customer_id":"c","shipping_address":"a","items":[
            {"product_id":"p","quantity":-1,"unit_price":"1"},
            {"product_id":"p","quantity":1,"unit_price":"x"}]}"#,
    )
    .unwrap();
    let errors = body.into_command(Confirmation::Implied).unwrap_err();
    let fields: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
    assert_eq!(fields, ["items[0].quantity", "items[1].unit_price"]);
}
