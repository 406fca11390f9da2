//! The reads against a real Postgres (`TEST_DATABASE_URL`), through reader views like the
//! ones a generation switch creates: the query API reads views, where Postgres knows no
//! primary key, so a query that works on the tables can still fail there. The documents
//! are spelled out in full: this is the served JSON shape.

use orderflow_read_model::{
    GENERATION_VIEW, MIGRATOR, PRIVATE_TABLES, READ_SCHEMA, load_history, load_orders,
};
use serde_json::json;
use sqlx::PgPool;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use std::str::FromStr;

#[tokio::test]
async fn orders_and_history_read_through_the_reader_views() {
    let readers = reader_views().await;
    let ids = ["o-1".to_owned(), "o-2".to_owned(), "nope".to_owned()];
    let mut views = load_orders(&readers, &ids).await.unwrap();
    views.sort_by(|a, b| a.order_id.cmp(&b.order_id));
    let documents: Vec<_> = views.iter().map(|v| v.to_json()).collect();
    assert_eq!(
        documents,
        [
            json!({
                "order_id": "o-1", "customer_id": "cust-1", "status": "shipped",
                "items": [
                    {"line_no": 1, "product_id": "sku-1", "quantity": 2, "unit_price": "25.99"},
                    {"line_no": 2, "product_id": "sku-2", "quantity": 1, "unit_price": "5.50"}
                ],
                "total_amount": "57.48", "currency": "EUR", "shipping_address": "1 Main St",
                "warehouse": "AMS-1", "carrier": "DHL", "tracking_number": "JD0123",
                "estimated_delivery": "2026-12-01", "location": null, "cancel_reason": null, "reject_reason": null,
                "version": 3,
                "placed_at": "2026-01-10T12:00:00.123Z", "updated_at": "2026-01-10T12:02:00.000Z"
            }),
            json!({
                "order_id": "o-2", "customer_id": "cust-2", "status": "placed", "items": [],
                "total_amount": "0.00", "currency": "USD", "shipping_address": "2 Main St",
                "warehouse": null, "carrier": null, "tracking_number": null,
                "estimated_delivery": null, "location": null, "cancel_reason": null, "reject_reason": null,
                "version": 1,
                "placed_at": "2026-01-10T12:00:00.000Z", "updated_at": "2026-01-10T12:00:00.000Z"
            }),
        ]
    );

    // A list entry is the document with the number of its lines instead of the lines.
    let mut entry = documents[1].clone();
    let fields = entry.as_object_mut().unwrap();
    assert_eq!(fields.remove("items"), Some(json!([])));
    fields.insert("items_count".into(), json!(0));
    assert_eq!(views[1].summary_json(), entry);
    assert_eq!(views[0].summary_json()["items_count"], 2);

    let history = load_history(&readers, "o-1", 0, 10).await.unwrap();
    let events: Vec<_> = history.iter().map(|e| json!(e)).collect();
    assert_eq!(
        events,
        [
            json!({"version": 1, "event_id": "00000000-0000-0000-0000-000000000001", "type": "OrderPlaced",
                   "occurred_at": "2026-01-10T12:00:00.123Z", "data": {"n": 1}}),
            json!({"version": 2, "event_id": "00000000-0000-0000-0000-000000000002", "type": "OrderPacked",
                   "occurred_at": "2026-01-10T12:01:00.000Z", "data": {"n": 2}}),
        ]
    );
    assert!(
        load_history(&readers, "nope", 0, 10)
            .await
            .unwrap()
            .is_empty()
    );
    let second_page = load_history(&readers, "o-1", 1, 10).await.unwrap();
    assert_eq!(
        second_page.iter().map(|e| e.version).collect::<Vec<_>>(),
        [2]
    );
    let first_only = load_history(&readers, "o-1", 0, 1).await.unwrap();
    assert_eq!(
        first_only.iter().map(|e| e.version).collect::<Vec<_>>(),
        [1]
    );
}

/// A fresh database with a generation's tables in `g1`, filled with SQL, and the reader
/// views over them; returns a pool reading the views.
async fn reader_views() -> PgPool {
    let url = orderflow_testkit::fresh_database("rm_test").await;
    let generation = pool(&url, "g1").await;
    sqlx::query("CREATE SCHEMA g1")
        .execute(&generation)
        .await
        .unwrap();
    MIGRATOR.run(&generation).await.unwrap();
    fill(&generation).await;
    let readers = pool(&url, READ_SCHEMA).await;
    sqlx::query(&format!("CREATE SCHEMA {READ_SCHEMA}"))
        .execute(&readers)
        .await
        .unwrap();
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT table_name::text FROM information_schema.tables WHERE table_schema = 'g1'",
    )
    .fetch_all(&readers)
    .await
    .unwrap();
    for table in tables
        .iter()
        .filter(|t| !PRIVATE_TABLES.contains(&t.as_str()))
    {
        let sql = format!("CREATE VIEW {table} AS SELECT * FROM g1.{table}");
        sqlx::query(&sql).execute(&readers).await.unwrap();
    }
    let sql = format!(
        "CREATE VIEW {GENERATION_VIEW} AS SELECT 1::bigint AS id, 'p:'::text AS redis_prefix"
    );
    sqlx::query(&sql).execute(&readers).await.unwrap();
    readers
}

/// o-1: shipped, two lines, history of two events stored newest first; o-2: no lines.
async fn fill(db: &PgPool) {
    let statements = [
        "INSERT INTO orders (order_id, customer_id, status, items_count, total_amount,
             shipping_address, warehouse, carrier, tracking_number, version, placed_at,
             updated_at, estimated_delivery, currency)
         VALUES ('o-1', 'cust-1', 'shipped', 2, 57.48, '1 Main St', 'AMS-1', 'DHL', 'JD0123', 3,
                 '2026-01-10T12:00:00.123Z', '2026-01-10T12:02:00Z', '2026-12-01', 'EUR'),
                ('o-2', 'cust-2', 'placed', 0, 0, '2 Main St', NULL, NULL, NULL, 1,
                 '2026-01-10T12:00:00Z', '2026-01-10T12:00:00Z', NULL, 'USD')",
        "INSERT INTO order_items (order_id, line_no, product_id, quantity, unit_price)
         VALUES ('o-1', 2, 'sku-2', 1, 5.5), ('o-1', 1, 'sku-1', 2, 25.99)",
        "INSERT INTO order_history (order_id, version, event_type, event_id, occurred_at, data)
         VALUES ('o-1', 2, 'OrderPacked', '00000000-0000-0000-0000-000000000002', '2026-01-10T12:01:00Z', '{\"n\": 2}'),
                ('o-1', 1, 'OrderPlaced', '00000000-0000-0000-0000-000000000001', '2026-01-10T12:00:00.123Z', '{\"n\": 1}')",
    ];
    for sql in statements {
        sqlx::query(sql).execute(db).await.unwrap();
    }
}

async fn pool(url: &str, search_path: &str) -> PgPool {
    let options = PgConnectOptions::from_str(url)
        .unwrap()
        .options([("search_path", search_path)]);
    PgPoolOptions::new().connect_with(options).await.unwrap()
}
