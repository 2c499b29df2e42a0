//! The HTTP side of `maekawa watch`: HTTP/1.1 with hyper (which tonic brings in already), the
//! embedded page, the JSON endpoints, and Server-Sent Events for the live feed (one-way, plain
//! HTTP, reconnected by the browser by itself: all a page that only listens needs).

use super::{Source, Watch};
use crate::logs::report::{entry_report, EntrySelector, Format};
use bytes::Bytes;
use http_body_util::{combinators::BoxBody, BodyExt, Full, StreamBody};
use hyper::body::Frame;
use hyper::{Method, Request, Response, StatusCode};
use std::convert::Infallible;
use std::sync::Arc;
use tokio_stream::wrappers::{errors::BroadcastStreamRecvError, BroadcastStream};
use tokio_stream::StreamExt as _;

type Body = BoxBody<Bytes, Infallible>;

/// The page's files, built into the binary.
const INDEX: &str = include_str!("page/index.html");
const APP: &str = include_str!("page/app.js");
const MODEL: &str = include_str!("page/model.js");
const DRAW: &str = include_str!("page/draw.js");
const STYLE: &str = include_str!("page/style.css");

/// Serves `watch` on `listener` until the task is dropped.
pub async fn serve(listener: tokio::net::TcpListener, watch: Watch) {
    let watch = Arc::new(watch);
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            // Out of file descriptors, say: let some close instead of spinning.
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            continue;
        };
        let watch = watch.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req| {
                let watch = watch.clone();
                async move { Ok::<_, Infallible>(respond(&watch, &req)) }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                .await;
        });
    }
}

fn respond<B>(watch: &Watch, req: &Request<B>) -> Response<Body> {
    if req.method() != Method::GET {
        return text(
            StatusCode::METHOD_NOT_ALLOWED,
            "text/plain",
            "only GET\n".into(),
        );
    }
    let ok = |kind: &str, body: String| text(StatusCode::OK, kind, body);
    let json = "application/json";
    match (req.uri().path(), &watch.source) {
        ("/", _) | ("/index.html", _) => ok("text/html; charset=utf-8", INDEX.into()),
        ("/app.js", _) => ok("text/javascript; charset=utf-8", APP.into()),
        ("/model.js", _) => ok("text/javascript; charset=utf-8", MODEL.into()),
        ("/draw.js", _) => ok("text/javascript; charset=utf-8", DRAW.into()),
        ("/style.css", _) => ok("text/css; charset=utf-8", STYLE.into()),
        ("/api/config", _) => ok(json, watch.config_json.clone()),
        ("/api/log", Source::Replay(r)) => ok(json, r.log_json.clone()),
        ("/api/entries", Source::Replay(r)) => ok(json, r.entries_json.clone()),
        ("/api/entries", Source::Live(l)) => ok(json, l.entries_json()),
        ("/api/events", Source::Live(l)) => events(l),
        ("/api/story", Source::Replay(r)) => story(&r.dir, req.uri().query().unwrap_or("")),
        ("/api/log" | "/api/story", Source::Live(_)) => text(
            StatusCode::NOT_FOUND,
            "text/plain",
            "live mode: replay a run's logs with maekawa watch --log-dir DIR for this\n".into(),
        ),
        ("/api/events", Source::Replay(_)) => text(
            StatusCode::NOT_FOUND,
            "text/plain",
            "replay mode: the lines are at /api/log\n".into(),
        ),
        _ => text(StatusCode::NOT_FOUND, "text/plain", "not found\n".into()),
    }
}

fn text(status: StatusCode, kind: &str, body: String) -> Response<Body> {
    let mut resp = Response::new(Full::new(Bytes::from(body)).boxed());
    *resp.status_mut() = status;
    if let Ok(v) = hyper::header::HeaderValue::from_str(kind) {
        resp.headers_mut().insert(hyper::header::CONTENT_TYPE, v);
    }
    resp.headers_mut().insert(
        hyper::header::CACHE_CONTROL,
        hyper::header::HeaderValue::from_static("no-store"),
    );
    resp
}

/// The live feed as Server-Sent Events: first `watch_hello` (the page starts afresh), then the
/// kept lines, then each new one.
fn events(live: &super::live::Live) -> Response<Body> {
    let (backlog, rx) = live.subscribe();
    let hello = format!(
        "data: {}\n\n",
        serde_json::json!({"event": "watch_hello", "backlog": backlog.len()})
    );
    let kept = backlog.into_iter().map(|l| format!("data: {l}\n\n"));
    let head = tokio_stream::iter(std::iter::once(hello).chain(kept));
    let tail = BroadcastStream::new(rx).map(|r| match r {
        Ok(line) => format!("data: {line}\n\n"),
        Err(BroadcastStreamRecvError::Lagged(n)) => format!(
            "data: {}\n\n",
            serde_json::json!({"event": "watch_dropped", "lines": n})
        ),
    });
    let frames = head
        .chain(tail)
        .map(|s| Ok::<_, Infallible>(Frame::data(Bytes::from(s))));
    let mut resp = Response::new(BodyExt::boxed(StreamBody::new(frames)));
    let headers = resp.headers_mut();
    headers.insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("text/event-stream"),
    );
    headers.insert(
        hyper::header::CACHE_CONTROL,
        hyper::header::HeaderValue::from_static("no-store"),
    );
    resp
}

/// `/api/story?node=X&entry=K[&inc=I]`: the entry's story as `maekawa report --format json`.
fn story(dir: &std::path::Path, query: &str) -> Response<Body> {
    let param = |name: &str| {
        query
            .split('&')
            .filter_map(|kv| kv.split_once('='))
            .find(|(k, _)| *k == name)
            .and_then(|(_, v)| v.parse::<u64>().ok())
    };
    let node = param("node").and_then(|n| u32::try_from(n).ok());
    let (Some(node), Some(entry)) = (node, param("entry")) else {
        return text(
            StatusCode::BAD_REQUEST,
            "text/plain",
            "give node=ID&entry=K\n".into(),
        );
    };
    let sel = EntrySelector {
        node,
        entry,
        incarnation: param("inc"),
    };
    match entry_report(dir, &sel, Format::Json) {
        Ok(body) => text(StatusCode::OK, "application/json", body),
        Err(e) => text(StatusCode::NOT_FOUND, "text/plain", format!("{e}\n")),
    }
}
