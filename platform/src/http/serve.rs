//! [`serve`]: the accept loop every service runs, in place of `axum::serve`, which has no
//! timeout for reading a request's headers.

use super::{Guard, HttpSettings};
use axum::Router;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use std::future::Future;
use std::io;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};

/// Serves `router` on `listener` over HTTP/1.1 with the limits of `settings`, until
/// `shutdown` completes; then stops accepting, lets the requests in flight finish (each is
/// bounded by the request timeout) and closes idle connections.
///
/// HTTP/1.1 only: no client of these services speaks HTTP/2, whose slow-client defences
/// (stream limits, resets, keep-alive pings) are another set of settings to get right.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
    settings: &HttpSettings,
) -> io::Result<()> {
    let service = TowerToHyperService::new(Guard::new(router, settings));
    let mut builder = http1::Builder::new();
    // hyper (1.12, `proto/h1/conn.rs`) starts the header timer whenever it waits for a
    // request head, including on a kept-alive connection waiting for its next request, so
    // this one timer closes both slow-header and idle connections.
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(settings.header_timeout())
        .keep_alive(true);
    let graceful = GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _peer)) => stream,
                Err(e) => {
                    pause_after(e).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let connection = builder.serve_connection(io(stream), service.clone());
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            // A client that goes away or times out is no fault of the server.
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, "connection ended with an error");
            }
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}

fn io(stream: TcpStream) -> TokioIo<TcpStream> {
    // Answers are small and latency matters more than packet count.
    let _ = stream.set_nodelay(true);
    TokioIo::new(stream)
}

/// After a failed accept: a connection that failed before it was accepted is the client's
/// business; anything else (out of file descriptors, most likely) is waited out, as
/// `axum::serve` does, rather than spinning.
async fn pause_after(e: io::Error) {
    if matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    ) {
        return;
    }
    tracing::error!(error = %e, "accepting a connection failed; pausing");
    tokio::time::sleep(Duration::from_secs(1)).await;
}
