//! A topic's id, partitions and replication from Kafka's DescribeTopics admin request.
//!
//! The rdkafka crate does not wrap DescribeTopics, and only its answer carries the topic
//! id (metadata responses do, but librdkafka does not expose it there), so this calls
//! librdkafka directly. Everything unsafe stays in this file, behind [`describe_topic`].

use rdkafka::bindings as rd;
use rdkafka::client::{Client, ClientContext};
use rdkafka::error::KafkaError;
use rdkafka::types::RDKafkaErrorCode;
use std::ffi::{CStr, CString};
use std::time::Duration;

/// What DescribeTopics tells about one topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Described {
    pub topic_id: String,
    pub partitions: i32,
    /// Replicas of the first partition (every partition of a topic created with a fixed
    /// factor has as many).
    pub replication_factor: i32,
}

/// Describes `topic` through `client`, blocking the calling thread for at most `timeout`
/// (run it where blocking is allowed).
pub fn describe_topic_blocking<C: ClientContext>(
    client: &Client<C>,
    topic: &str,
    timeout: Duration,
) -> Result<Described, KafkaError> {
    let name = CString::new(topic).map_err(|_| KafkaError::AdminOpCreation(topic.into()))?;
    let timeout_ms = timeout.as_millis().min(i32::MAX as u128) as i32;
    // SAFETY: every pointer below comes from librdkafka and is used only while its owner
    // (`Owned`, destroyed on drop) lives; the strings are copied out before that.
    unsafe {
        let rk = client.native_ptr();
        let queue = Owned(rd::rd_kafka_queue_new(rk), rd::rd_kafka_queue_destroy);
        let mut names = [name.as_ptr()];
        let collection = Owned(
            rd::rd_kafka_TopicCollection_of_topic_names(names.as_mut_ptr(), 1),
            rd::rd_kafka_TopicCollection_destroy,
        );
        let options = Owned(
            rd::rd_kafka_AdminOptions_new(
                rk,
                rd::rd_kafka_admin_op_t::RD_KAFKA_ADMIN_OP_DESCRIBETOPICS,
            ),
            rd::rd_kafka_AdminOptions_destroy,
        );
        rd::rd_kafka_AdminOptions_set_request_timeout(
            options.0,
            timeout_ms,
            std::ptr::null_mut(),
            0,
        );
        rd::rd_kafka_DescribeTopics(rk, collection.0, options.0, queue.0);
        let event = rd::rd_kafka_queue_poll(queue.0, timeout_ms.saturating_add(1000));
        if event.is_null() {
            return Err(KafkaError::AdminOp(RDKafkaErrorCode::OperationTimedOut));
        }
        let event = Owned(event, rd::rd_kafka_event_destroy);
        let err = rd::rd_kafka_event_error(event.0);
        if err != rd::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR {
            return Err(KafkaError::AdminOp(err.into()));
        }
        let result = rd::rd_kafka_event_DescribeTopics_result(event.0);
        let mut count = 0;
        let topics = rd::rd_kafka_DescribeTopics_result_topics(result, &mut count);
        if count == 0 {
            return Err(KafkaError::AdminOp(
                RDKafkaErrorCode::UnknownTopicOrPartition,
            ));
        }
        let description = *topics;
        let error = rd::rd_kafka_TopicDescription_error(description);
        if !error.is_null() {
            return Err(KafkaError::AdminOp(rd::rd_kafka_error_code(error).into()));
        }
        let id = rd::rd_kafka_TopicDescription_topic_id(description);
        let topic_id = CStr::from_ptr(rd::rd_kafka_Uuid_base64str(id))
            .to_string_lossy()
            .into_owned();
        let mut partitions = 0;
        let infos = rd::rd_kafka_TopicDescription_partitions(description, &mut partitions);
        let mut replicas = 0;
        if partitions > 0 {
            rd::rd_kafka_TopicPartitionInfo_replicas(*infos, &mut replicas);
        }
        Ok(Described {
            topic_id,
            partitions: partitions as i32,
            replication_factor: replicas as i32,
        })
    }
}

/// A librdkafka object destroyed on drop.
struct Owned<T>(*mut T, unsafe extern "C" fn(*mut T));

impl<T> Drop for Owned<T> {
    fn drop(&mut self) {
        if !self.0.is_null() {
            // SAFETY: the pointer came from the matching constructor and is dropped once.
            unsafe { (self.1)(self.0) }
        }
    }
}
