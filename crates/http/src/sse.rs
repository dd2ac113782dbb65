//! Server-sent event streams (contract §1.10): the opening lines, `event:`/`data:` frames, a keep-alive comment
//! every 15 s, and the credentials checked again at each keep-alive so a revoked key or session, or a lost `view`,
//! ends the stream.

use std::pin::Pin;
use std::time::Duration;

use actix_web::web::{Bytes, Data};
use actix_web::{HttpRequest, HttpResponse};
use futures_util::{Stream, StreamExt};
use hub_domain::model::access::{Permission, Principal};

use crate::access::{SESSION_COOKIE, api_key_of};
use crate::metrics::SseConnection;
pub use crate::metrics::SseStream;
use crate::state::AppState;

/// Keep-alive and credential re-check period.
const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// One event to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// `event:` name.
    pub name: &'static str,
    /// `data:` payload, JSON on one line.
    pub data: String,
}

/// Events in order; `Err(())` ends the stream (the subscriber fell behind).
pub type Events = Pin<Box<dyn Stream<Item = Result<Event, ()>>>>;

/// How the stream's principal authenticated, kept to check again later.
enum Credential {
    ApiKey(String),
    Session(String),
}

async fn still_allowed(state: &AppState, credential: &Credential) -> bool {
    let principal: Option<Principal> = match credential {
        Credential::ApiKey(key) => state.auth.authenticate_api_key(key).await.ok(),
        Credential::Session(token) => state.auth.authenticate_session(token).await.ok().flatten(),
    };
    principal.is_some_and(|p| p.can(Permission::View))
}

fn frame(event: &Event) -> Bytes {
    Bytes::from(format!("event: {}\ndata: {}\n\n", event.name, event.data))
}

/// The `200 text/event-stream` response of the uploads stream carrying `events` (see [`response_for`]).
pub fn response(req: &HttpRequest, state: Data<AppState>, principal: Principal, events: Events) -> HttpResponse {
    response_for(SseStream::Uploads, req, state, principal, events)
}

/// The `200 text/event-stream` response carrying `events`, counted in the open connections of `stream` until
/// its body is dropped.
pub fn response_for(
    stream: SseStream,
    req: &HttpRequest,
    state: Data<AppState>,
    principal: Principal,
    events: Events,
) -> HttpResponse {
    let credential = match (api_key_of(req.headers()), req.cookie(SESSION_COOKIE), principal.session.is_some()) {
        (Some(key), _, false) => Some(Credential::ApiKey(key.to_owned())),
        (_, Some(cookie), true) => Some(Credential::Session(cookie.value().to_owned())),
        _ => None,
    };
    let mut ticker = tokio::time::interval_at(tokio::time::Instant::now() + KEEP_ALIVE, KEEP_ALIVE);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let opening = futures_util::stream::once(async {
        Ok::<_, actix_web::Error>(Bytes::from_static(b"retry: 5000\n\n: connected\n\n"))
    });
    let shutdown = state.shutdown.clone();
    let body = futures_util::stream::unfold(Some((events, ticker, state, credential, shutdown)), |step| async move {
        let (mut events, mut ticker, state, credential, mut shutdown) = step?;
        if *shutdown.borrow() {
            return None;
        }
        let bytes = tokio::select! {
            // §1.10: on shutdown the server closes every stream.
            _ = shutdown.changed() => return None,
            event = events.next() => match event {
                Some(Ok(event)) => frame(&event),
                // Fell behind, or the bus is gone: close.
                Some(Err(())) | None => return None,
            },
            _ = ticker.tick() => {
                let allowed = match &credential {
                    Some(credential) => still_allowed(&state, credential).await,
                    None => false,
                };
                if !allowed {
                    return None;
                }
                Bytes::from_static(b": keep-alive\n\n")
            }
        };
        Some((Ok(bytes), Some((events, ticker, state, credential, shutdown))))
    });
    let connection = SseConnection::open(stream);
    // The counter lives in the body: dropping the body (client gone, stream ended, shutdown) ends the count.
    let body = opening.chain(body).map(move |chunk| {
        let _open = &connection;
        chunk
    });
    HttpResponse::Ok()
        .content_type("text/event-stream")
        .insert_header(("Cache-Control", "no-cache"))
        .insert_header(("X-Accel-Buffering", "no"))
        .streaming(body)
}
