//! One keep-alive HTTP/1.1 client connection, on hyper's connection API directly: the load
//! generator shares two cores with the system under test, so it stays as thin as it can
//! (no pool, no redirects, no per-request URL parsing).

use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Full};
use hyper::client::conn::http1::{SendRequest, handshake};
use hyper::header::{AUTHORIZATION, CONTENT_TYPE, HOST, HeaderValue};
use hyper::{Method, Request};
use hyper_util::rt::TokioIo;
use std::net::SocketAddr;
use std::sync::OnceLock;
use std::time::Duration;
use tokio::net::TcpStream;

/// A response: its status and whole body.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub body: Bytes,
}

/// A request that could not be answered (connect, write or read failed).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ConnError(String);

type Body = http_body_util::Either<Full<Bytes>, Empty<Bytes>>;

/// The `Authorization` every request of this process sends: the benchmark measures the
/// services as they run, with authentication on, as one operator whose token is verified
/// once and then found in the services' token cache, as a real client's would be.
static AUTHORIZATION_VALUE: OnceLock<HeaderValue> = OnceLock::new();

/// Sends `Bearer <token>` with every request from now on (the first call wins).
pub fn authenticate_as(token: &str) -> Result<(), ConnError> {
    let value = HeaderValue::from_str(&format!("Bearer {token}")).map_err(err)?;
    let _ = AUTHORIZATION_VALUE.set(value);
    Ok(())
}

/// A connection to one server, reopened after a failure.
pub struct Conn {
    addr: SocketAddr,
    authority: String,
    sender: Option<SendRequest<Body>>,
}

impl Conn {
    /// Connects to `addr`.
    pub async fn open(addr: SocketAddr) -> Result<Conn, ConnError> {
        let mut conn = Conn {
            addr,
            authority: addr.to_string(),
            sender: None,
        };
        conn.connect().await?;
        Ok(conn)
    }

    /// Drops the current connection and opens a new one, after a short pause so a server
    /// that is down is not hammered. A failure leaves it closed; the next request retries.
    pub async fn reconnect(&mut self) {
        self.sender = None;
        tokio::time::sleep(Duration::from_millis(50)).await;
        let _ = self.connect().await;
    }

    async fn connect(&mut self) -> Result<(), ConnError> {
        let stream = TcpStream::connect(self.addr).await.map_err(err)?;
        stream.set_nodelay(true).map_err(err)?;
        let (sender, connection) = handshake(TokioIo::new(stream)).await.map_err(err)?;
        tokio::spawn(connection);
        self.sender = Some(sender);
        Ok(())
    }

    /// `GET path`.
    pub async fn get(&mut self, path: &str) -> Result<Response, ConnError> {
        self.send(Method::GET, path, None, None).await
    }

    /// `POST path` with a JSON body.
    pub async fn post(&mut self, path: &str, json: Bytes) -> Result<Response, ConnError> {
        self.send(Method::POST, path, Some(json), None).await
    }

    /// `POST path` with a JSON body and an `Idempotency-Key`.
    pub async fn post_keyed(
        &mut self,
        path: &str,
        json: Bytes,
        key: &str,
    ) -> Result<Response, ConnError> {
        self.send(Method::POST, path, Some(json), Some(key)).await
    }

    async fn send(
        &mut self,
        method: Method,
        path: &str,
        json: Option<Bytes>,
        key: Option<&str>,
    ) -> Result<Response, ConnError> {
        if self.sender.is_none() {
            self.connect().await?;
        }
        let sender = self.sender.as_mut().expect("connected above");
        let mut builder = Request::builder()
            .method(method)
            .uri(path)
            .header(HOST, &self.authority);
        if let Some(authorization) = AUTHORIZATION_VALUE.get() {
            builder = builder.header(AUTHORIZATION, authorization);
        }
        if let Some(key) = key {
            builder = builder.header("idempotency-key", key);
        }
        let request = match json {
            Some(body) => builder
                .header(CONTENT_TYPE, "application/json")
                .body(Body::Left(Full::new(body))),
            None => builder.body(Body::Right(Empty::new())),
        }
        .map_err(err)?;
        let result = async {
            sender.ready().await.map_err(err)?;
            let response = sender.send_request(request).await.map_err(err)?;
            let status = response.status().as_u16();
            let body = response.into_body().collect().await.map_err(err)?;
            Ok(Response {
                status,
                body: body.to_bytes(),
            })
        }
        .await;
        if result.is_err() {
            self.sender = None;
        }
        result
    }
}

fn err(e: impl std::fmt::Display) -> ConnError {
    ConnError(e.to_string())
}
