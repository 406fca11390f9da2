//! Slow and greedy clients against the real service (issue 15): a stalled body, headers
//! that never end and idle keep-alive connections are cut off, and a client past its rate
//! gets 429. Overload is tested on the query API, whose long polls make it easy to fill.

use crate::helpers::{Registry, issuer};
use orderflow_command_service::{Settings, run};
use orderflow_platform::HttpSettings;
use reqwest::StatusCode;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use uuid::Uuid;

/// A command service (trusting the test issuer) with `http` limits.
async fn spawn_hardened(http: HttpSettings) -> String {
    orderflow_platform::init_tracing();
    let topic = format!("orders.events.test-{}", Uuid::new_v4().simple());
    let mut settings = crate::helpers::settings(&Registry::shared().url, &topic);
    settings.http = http;
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap().to_string();
    // Runs until the test's runtime ends.
    tokio::spawn(run(settings, listener, std::future::pending()));
    address
}

fn quick_timeouts() -> HttpSettings {
    HttpSettings {
        header_timeout_ms: 1_000,
        body_timeout_ms: 1_000,
        ..HttpSettings::default()
    }
}

/// Everything the server sends until it closes the connection, or `None` if it is still
/// open after `patience`.
async fn until_closed(stream: &mut TcpStream, patience: Duration) -> Option<String> {
    let mut received = Vec::new();
    let read = tokio::time::timeout(patience, stream.read_to_end(&mut received)).await;
    match read {
        Ok(_) => Some(String::from_utf8_lossy(&received).into_owned()),
        Err(_) => None,
    }
}

#[tokio::test]
async fn a_client_that_stalls_its_body_gets_408_and_the_connection_is_closed() {
    let address = spawn_hardened(quick_timeouts()).await;
    let mut stream = TcpStream::connect(&address).await.unwrap();
    let head = format!(
        "POST /orders HTTP/1.1\r\nHost: test\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"customer_id\":",
        issuer().operator()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let started = Instant::now();
    let answer = until_closed(&mut stream, Duration::from_secs(10))
        .await
        .expect("the connection was still open 10 s after the body stalled");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("application/problem+json"), "{answer}");
}

#[tokio::test]
async fn by_default_a_stalled_body_is_cut_off_within_30_s() {
    let defaults = Settings::for_stack("b", "http://r", "t").http;
    assert!(defaults.body_timeout() <= Duration::from_secs(30));
    assert!(defaults.header_timeout() <= Duration::from_secs(30));
}

#[tokio::test]
async fn headers_that_never_end_get_the_connection_closed() {
    let address = spawn_hardened(quick_timeouts()).await;
    let mut stream = TcpStream::connect(&address).await.unwrap();
    let started = Instant::now();
    // One byte at a time, slower than the header timeout allows in all.
    for byte in b"GET /healthz HTTP/1.1\r\nHost: te" {
        if stream.write_all(&[*byte]).await.is_err() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let answer = until_closed(&mut stream, Duration::from_secs(10)).await;
    assert!(answer.is_some(), "still open after the header timeout");
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed() {
    let address = spawn_hardened(quick_timeouts()).await;
    let mut stream = TcpStream::connect(&address).await.unwrap();
    let request = "GET /healthz HTTP/1.1\r\nHost: test\r\n\r\n";
    stream.write_all(request.as_bytes()).await.unwrap();
    let started = Instant::now();
    let answer = until_closed(&mut stream, Duration::from_secs(10))
        .await
        .expect("an idle keep-alive connection was still open after 10 s");
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    let idle = started.elapsed();
    assert!(
        idle >= Duration::from_millis(500),
        "closed at once: {idle:?}"
    );
    assert!(idle < Duration::from_secs(5), "{idle:?}");
}

#[tokio::test]
async fn a_client_past_its_rate_gets_429_with_retry_after_and_others_are_served() {
    let address = spawn_hardened(HttpSettings {
        rate_limit_per_second: 1,
        rate_limit_burst: 2,
        ..HttpSettings::default()
    })
    .await;
    let client = reqwest::Client::new();
    let url = format!("http://{address}/orders/{}", Uuid::new_v4());
    let get = |token: &str| {
        client
            .get(&url)
            .header("Authorization", format!("Bearer {token}"))
            .send()
    };
    let (alice, bob) = (issuer().customer("alice"), issuer().customer("bob"));
    for _ in 0..2 {
        assert_ne!(
            get(&alice).await.unwrap().status(),
            StatusCode::TOO_MANY_REQUESTS
        );
    }
    // Another token of the same principal shares its budget.
    let limited = get(&issuer().customer("alice")).await.unwrap();
    assert_eq!(limited.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(limited.headers()["retry-after"], "1");
    assert_eq!(
        limited.headers()["content-type"],
        "application/problem+json"
    );
    assert_ne!(
        get(&bob).await.unwrap().status(),
        StatusCode::TOO_MANY_REQUESTS
    );
    let probe = client.get(format!("http://{address}/healthz")).send();
    assert_eq!(
        probe.await.unwrap().status(),
        StatusCode::OK,
        "probes are not limited"
    );
}
