//! The actix application: state, body limits, routes, fallbacks and middleware.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::guard;
use actix_web::middleware::from_fn;
use actix_web::web::{self, Data, JsonConfig};
use actix_web::{App, HttpResponse};

use crate::error::{ApiError, json_error};
use crate::handlers::{report_links, report_origin};
use crate::middleware::{cors_and_rate_limit, request_context};
use crate::state::AppState;
use crate::{metrics, routes};

/// The JSON 404 for paths no route serves, marked [`metrics::Unmatched`] for the request metrics. Also what the web
/// UI answers for paths that are not its pages.
pub fn route_not_found() -> HttpResponse {
    let mut res = actix_web::ResponseError::error_response(&ApiError::route_not_found());
    res.extensions_mut().insert(metrics::Unmatched);
    res
}

/// Builds the application for one worker, with more services of the main origin (the web UI) registered after
/// every API route, so they only see paths the API does not serve. They may replace the default service (the JSON
/// 404) too, handing back to [`route_not_found`] whatever is not theirs.
pub fn build_app_with(
    state: Data<AppState>,
    more: impl FnOnce(&mut web::ServiceConfig),
) -> App<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    let json =
        JsonConfig::default().limit(state.config.max_json_bytes).error_handler(|err, _req| json_error(err).into());
    let report_host = state.config.report_host.clone();
    let metrics_public = state.config.metrics_public;
    metrics::record_build_info(&state.version.version, &state.version.git_commit);
    App::new()
        .app_data(state)
        .app_data(json)
        .configure(|cfg| {
            // With one listener for both origins, the report origin's host name selects report serving for every
            // path, so nothing of the main origin answers there.
            if let Some(host) = report_host {
                cfg.service(
                    web::scope("").guard(guard::Host(host)).default_service(web::to(report_origin::serve_report)),
                );
            }
        })
        .configure(routes::configure)
        // Outside the route table: its access rule is a setting (§12.3), and it exists on the main origin only.
        .configure(|cfg| metrics::configure(cfg, metrics_public))
        .service(web::scope("/reports").default_service(web::to(report_links::main_origin_reports)))
        .default_service(web::to(async || route_not_found()))
        // After the JSON 404, so the UI may take over the default service for browser page paths.
        .configure(more)
        .wrap(from_fn(cors_and_rate_limit))
        .wrap(from_fn(request_context))
        // Outermost, so rate-limited and preflight answers are counted too.
        .wrap(from_fn(metrics::track_requests))
}

/// Builds the application of the report listener (§8.9.2): report files only, no rate limit, no CORS.
pub fn build_report_app(
    state: Data<AppState>,
) -> App<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    App::new()
        .app_data(state)
        .default_service(web::to(report_origin::serve_report))
        .wrap(from_fn(request_context))
        .wrap(from_fn(metrics::track_requests))
}
