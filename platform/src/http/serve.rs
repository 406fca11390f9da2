//! [`serve`]: the accept loop every service runs, in place of `axum::serve`, which has no
//! timeout for reading a request's headers.

use super::write_deadline::WriteDeadline;
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
use tokio::task::JoinSet;

/// How long the requests in flight may take to finish once shutdown starts. A response's
/// head is bounded by the request timeout, but a streamed body (a live stream whose
/// client stopped reading, so its last event cannot be written) is not: after this, the
/// connections left are dropped.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// Serves `router` on `listener` over HTTP/1.1 with the limits of `settings`, until
/// `shutdown` completes; then stops accepting, lets the requests in flight finish (at most
/// [`SHUTDOWN_GRACE`]) and closes idle connections.
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
    let mut connections = JoinSet::new();
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
        let connection = builder.serve_connection(io(stream, settings), service.clone());
        let connection = graceful.watch(connection);
        // Finished connections are reaped as new ones come, so the set stays small.
        while connections.try_join_next().is_some() {}
        connections.spawn(async move {
            // A client that goes away or times out is no fault of the server.
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, "connection ended with an error");
            }
        });
    }
    drop(listener);
    if tokio::time::timeout(SHUTDOWN_GRACE, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!(grace = ?SHUTDOWN_GRACE, "connections still busy at shutdown; dropping them");
        connections.abort_all();
    }
    Ok(())
}

fn io(stream: TcpStream, settings: &HttpSettings) -> TokioIo<WriteDeadline<TcpStream>> {
    // Answers are small and latency matters more than packet count.
    let _ = stream.set_nodelay(true);
    TokioIo::new(WriteDeadline::new(stream, settings.write_timeout()))
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
