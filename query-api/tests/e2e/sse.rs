//! A Server-Sent Events client for the tests: the events of one response, parsed as the
//! HTML standard says (fields up to a blank line; comments skipped). The services end
//! lines with `\n` only, so that is all it splits on.

use futures::StreamExt;
use futures::stream::BoxStream;
use serde_json::Value;
use std::time::Duration;

/// One event of a stream.
#[derive(Debug, Clone, PartialEq)]
pub struct SseEvent {
    pub event: String,
    pub id: Option<String>,
    pub data: String,
}

impl SseEvent {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.data).expect("the event's data is JSON")
    }
}

/// The events of one streaming response.
pub struct SseStream {
    body: BoxStream<'static, reqwest::Result<Vec<u8>>>,
    /// Bytes received, not parsed yet (an event may arrive split anywhere, even inside a
    /// character).
    buffer: Vec<u8>,
    ended: bool,
}

impl SseStream {
    /// Reads the stream of `response`, which must be a 200 `text/event-stream`.
    pub fn of(response: reqwest::Response) -> SseStream {
        assert_eq!(response.status(), 200, "the stream was refused");
        let content_type = response.headers()["content-type"].to_str().unwrap();
        assert!(
            content_type.starts_with("text/event-stream"),
            "{content_type}"
        );
        SseStream {
            body: response
                .bytes_stream()
                .map(|c| c.map(|b| b.to_vec()))
                .boxed(),
            buffer: Vec::new(),
            ended: false,
        }
    }

    /// The next event within `within`; `None` when none came or the stream ended.
    pub async fn next_within(&mut self, within: Duration) -> Option<SseEvent> {
        tokio::time::timeout(within, self.next())
            .await
            .ok()
            .flatten()
    }

    /// Whether the server closed the stream (or it failed).
    pub fn ended(&self) -> bool {
        self.ended
    }

    /// The next event; `None` when the stream ended.
    pub async fn next(&mut self) -> Option<SseEvent> {
        loop {
            if let Some(event) = self.take_event() {
                return Some(event);
            }
            match self.body.next().await {
                Some(Ok(chunk)) => self.buffer.extend_from_slice(&chunk),
                Some(Err(_)) | None => {
                    self.ended = true;
                    return None;
                }
            }
        }
    }

    /// Parses one complete event out of the buffer, skipping comment-only blocks.
    fn take_event(&mut self) -> Option<SseEvent> {
        loop {
            let end = self.buffer.windows(2).position(|w| w == b"\n\n")?;
            let block: Vec<u8> = self.buffer.drain(..end + 2).collect();
            let block = String::from_utf8(block).expect("an event is UTF-8");
            let mut event = SseEvent {
                event: "message".into(),
                id: None,
                data: String::new(),
            };
            let mut has_data = false;
            for line in block.lines() {
                let (field, value) = line.split_once(':').unwrap_or((line, ""));
                let value = value.strip_prefix(' ').unwrap_or(value);
                match field {
                    "event" => event.event = value.to_owned(),
                    "id" => event.id = Some(value.to_owned()),
                    "data" => {
                        if has_data {
                            event.data.push('\n');
                        }
                        event.data.push_str(value);
                        has_data = true;
                    }
                    _ => {}
                }
            }
            if has_data {
                return Some(event);
            }
        }
    }
}
