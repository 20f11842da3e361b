//! The floor for `scripts/load.sh`: a bare hyper server that reads each
//! request's body and answers every request with the same fixed JSON body
//! (`{"ActionStatus":"OK","ErrorCode":0,"ErrorInfo":""}`, what wordgate
//! answers a clean message). No routing, no auth, no parsing, no
//! moderation: what HTTP alone costs on this machine.
//!
//! It is built like `wordgate serve`, so the difference between the two is
//! wordgate's own work: a tokio multi-thread runtime with `--workers`
//! worker threads (0: one per core, tokio's default), the accept loop on
//! the main thread inside `block_on`, one task per connection, `TCP_NODELAY`,
//! hyper's HTTP/1.1 builder with keep-alive, its timer and a 30 s header
//! timeout (wordgate's default).
//!
//! ```sh
//! cargo run --release --example floor -- --listen 127.0.0.1:18081 --workers 1
//! ```
//!
//! Prints `listening on http://ADDR` on standard output once bound; runs
//! until killed.

use std::convert::Infallible;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::{TokioIo, TokioTimer};

const ANSWER: &[u8] = br#"{"ActionStatus":"OK","ErrorCode":0,"ErrorInfo":""}"#;

async fn answer(request: Request<hyper::body::Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    // Read the body as wordgate does, so both servers move the same bytes.
    let read = request.into_body().collect().await.map(|body| body.to_bytes().len());
    let mut response = Response::new(Full::new(Bytes::from_static(ANSWER)));
    if read.is_err() {
        *response.status_mut() = hyper::StatusCode::BAD_REQUEST;
    }
    response
        .headers_mut()
        .insert(hyper::header::CONTENT_TYPE, hyper::header::HeaderValue::from_static("application/json"));
    Ok(response)
}

fn main() -> std::process::ExitCode {
    let mut listen = String::from("127.0.0.1:18081");
    let mut workers = 0usize;
    let mut args = std::env::args().skip(1);
    let usage = || {
        eprintln!("usage: floor [--listen ADDR] [--workers N]");
        std::process::ExitCode::from(2)
    };
    while let Some(arg) = args.next() {
        match (arg.as_str(), args.next()) {
            ("--listen", Some(value)) => listen = value,
            ("--workers", Some(value)) => match value.parse() {
                Ok(n) => workers = n,
                Err(_) => return usage(),
            },
            _ => return usage(),
        }
    }
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    if workers > 0 {
        builder.worker_threads(workers);
    }
    let runtime = match builder.enable_all().build() {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("floor: cannot start the runtime: {err}");
            return std::process::ExitCode::FAILURE;
        }
    };
    runtime.block_on(async move {
        let listener = match tokio::net::TcpListener::bind(&listen).await {
            Ok(listener) => listener,
            Err(err) => {
                eprintln!("floor: cannot listen on {listen}: {err}");
                return std::process::ExitCode::FAILURE;
            }
        };
        let shown = listener.local_addr().map(|addr| addr.to_string()).unwrap_or(listen);
        println!("listening on http://{shown}");
        let mut http = http1::Builder::new();
        http.timer(TokioTimer::new()).header_read_timeout(Duration::from_secs(30)).keep_alive(true);
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                // Out of file descriptors, most likely: let some close.
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            };
            let _ = stream.set_nodelay(true);
            let connection = http.serve_connection(TokioIo::new(stream), service_fn(answer));
            tokio::spawn(async move {
                let _ = connection.await;
            });
        }
    })
}
