//! The OpenAPI schema of one event of the streams: in OpenAPI 3.1 the `schema` of a
//! `text/event-stream` response describes each event as an object of its fields, with
//! `data` a JSON string whose own schema is its `contentSchema`.

use crate::streams::EndReason;
use utoipa::openapi::schema::{ObjectBuilder, OneOfBuilder, Schema, Type};
use utoipa::openapi::{Ref, RefOr};
use utoipa::{PartialSchema, ToSchema};

/// One event of a stream: `order` (a document) or `end`.
pub struct StreamEvent;

impl PartialSchema for StreamEvent {
    fn schema() -> RefOr<Schema> {
        let order = event("order", Ref::from_schema_name("Order").into())
            .property(
                "id",
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .pattern(Some("^[0-9]+$"))
                    .description(Some("The version (only on an order's own stream).")),
            )
            .description(Some("A change: the order's document after it."));
        let end = event("end", end_data().into()).description(Some(
            "The server closes the stream; reconnect with the last `id`.",
        ));
        OneOfBuilder::new().item(order).item(end).into()
    }
}

impl ToSchema for StreamEvent {}

/// An event named `name` whose `data` is JSON of `content`.
fn event(name: &str, content: RefOr<Schema>) -> ObjectBuilder {
    ObjectBuilder::new()
        .property(
            "event",
            ObjectBuilder::new()
                .schema_type(Type::String)
                .enum_values(Some([name])),
        )
        .property(
            "data",
            ObjectBuilder::new()
                .schema_type(Type::String)
                .content_media_type("application/json")
                .content_schema(Some(content)),
        )
        .required("event")
        .required("data")
}

/// The `data` of an `end` event.
fn end_data() -> ObjectBuilder {
    let reasons = [
        EndReason::Shutdown,
        EndReason::GenerationSwitch,
        EndReason::SlowSubscriber,
        EndReason::UnreadableHistory,
        EndReason::Unavailable,
    ]
    .map(EndReason::as_str);
    ObjectBuilder::new()
        .property(
            "reason",
            ObjectBuilder::new()
                .schema_type(Type::String)
                .enum_values(Some(reasons)),
        )
        .property(
            "last_version",
            ObjectBuilder::new()
                .schema_type(utoipa::openapi::schema::SchemaType::from_iter([
                    Type::Integer,
                    Type::Null,
                ]))
                .minimum(Some(1))
                .description(Some("The last version sent; `null` if none.")),
        )
        .required("reason")
        .required("last_version")
}
