//! `Expect: 100-continue` (RFC 9110 §10.1.1): a client that asks before sending its body is told every refusal
//! that needs no body (401, 403, 404, 409, 413, and the 400s and 415 of the request head) before it is invited to
//! send, so a wrong key or an oversize archive costs it nothing.
//!
//! actix answers the expectation in a service of its own that runs before the application, and sends
//! `100 Continue` as soon as that service lets the request through. [`expect_gate`] is that service. For the two
//! routes whose bodies are archives (the streaming upload and a chunk) it applies what the handlers apply before
//! reading: the route's access rule from the route table, the handler's own head checks, and the upload use case's
//! pre-body checks. Every other request is invited at once (its body is small JSON, bounded by the JSON limit) and
//! the application answers it as usual. Whatever the gate lets through, the application checks again in full.

use std::rc::Rc;

use actix_web::ResponseError;
use actix_web::dev::{Path, ResourceDef, ServiceFactory, Url, fn_service};
use actix_web::error::InternalError;
use actix_web::http::{ConnectionType, Method};
use actix_web::web::Data;
use hub_domain::ids::{EnvId, ProjectId, UploadId};
use hub_domain::services::Target;

use crate::access::{Access, RequestHead, authorize};
use crate::error::ApiError;
use crate::extract::QueryMap;
use crate::handlers::uploads::{StreamRequest, chunk_request, stream_request};
use crate::routes::{self, endpoints};
use crate::state::AppState;

/// A route whose body is an archive, as the gate recognises it.
struct Gated {
    method: Method,
    pattern: ResourceDef,
    access: Access,
    kind: Kind,
}

#[derive(Clone, Copy)]
enum Kind {
    Stream,
    Chunk,
}

/// The expectation service of the main listener (see the module documentation): lets a request through to be
/// invited, or answers it with the error the application would give, in the contract's JSON form.
pub fn expect_gate(
    state: Data<AppState>,
) -> impl ServiceFactory<
    actix_http::Request,
    Config = (),
    Response = actix_http::Request,
    Error = actix_web::Error,
    InitError = (),
> {
    // The access rules come from the route table, so the gate cannot disagree with the routes it stands for.
    let gated: Rc<[Gated]> = endpoints()
        .into_iter()
        .filter_map(|e| {
            let kind = match (&e.method, e.path) {
                (&Method::POST, routes::RESULTS) => Kind::Stream,
                (&Method::PUT, routes::UPLOAD_ID) => Kind::Chunk,
                _ => return None,
            };
            Some(Gated { method: e.method, pattern: ResourceDef::new(e.path), access: e.access, kind })
        })
        .collect();
    fn_service(move |req: actix_http::Request| {
        let (state, gated) = (state.clone(), Rc::clone(&gated));
        async move {
            match precheck(&state, &gated, &req).await {
                Ok(()) => Ok(req),
                Err(err) => {
                    tracing::info!(method = %req.method(), path = %req.path(), error = %err,
                        "refused before inviting the body");
                    // The body was never invited, and a client may send it anyway (RFC 9110 lets it after a
                    // while): closing the connection keeps those bytes from being read as the next request.
                    let mut response = err.error_response();
                    response.head_mut().set_connection_type(ConnectionType::Close);
                    Err(InternalError::from_response(err, response).into())
                }
            }
        }
    })
}

/// The application's answer to the head of `req` when it is a refusal; `Ok` when the body may come (including
/// every case the gate leaves to the application, such as a path segment that does not parse).
async fn precheck(state: &AppState, gated: &[Gated], req: &actix_http::Request) -> Result<(), ApiError> {
    let head = req.head();
    let mut path = Path::new(Url::new(head.uri.clone()));
    let Some(route) = gated.iter().find(|g| g.method == head.method && g.pattern.capture_match_info(&mut path)) else {
        return Ok(());
    };
    let request_head = RequestHead { method: &head.method, headers: &head.headers, secure: false };
    let Some(principal) = authorize(route.access, request_head, state).await? else {
        return Ok(());
    };
    let segment = |name| path.get(name).unwrap_or_default();
    let (Ok(env), Ok(project)) = (EnvId::parse(segment("envId")), ProjectId::parse(segment("projectId"))) else {
        return Ok(());
    };
    let limits = state.uploads.limits();
    match route.kind {
        Kind::Stream => {
            let Ok(query) = QueryMap::parse(head.uri.query().unwrap_or("")) else { return Ok(()) };
            let StreamRequest { build, options, .. } = stream_request(&head.headers, &query, limits.max_upload_bytes)?;
            let target = Target { env, project, build };
            state.uploads.precheck_stream(&principal, &target, options.replace).await?;
        }
        Kind::Chunk => {
            let Ok(id) = UploadId::parse(segment("uploadId")) else { return Ok(()) };
            chunk_request(&head.headers, limits.max_chunk_bytes)?;
            state.uploads.precheck_chunk(&principal, &env, &project, id).await?;
        }
    }
    Ok(())
}
