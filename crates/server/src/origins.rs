//! The two public origins (contract §1.1): the main origin (`BASE_URL`) and the report origin
//! (`REPORTS_BASE_URL`, listener `REPORTS_ADDR`), and the start-up checks that keep them apart. Uploaded report
//! content runs on the report origin; if that origin were the main one, or were allowed by CORS, a report's script
//! could act with the viewer's credentials.

use std::net::SocketAddr;

use hub_domain::model::origin::Origin;

use crate::config::ConfigError;

/// The report origin as configured: `REPORTS_BASE_URL`, or derived from `BASE_URL` with the port of
/// `REPORTS_ADDR`; `None` when it is derived per request (neither URL set).
///
/// # Errors
/// When it would equal the main origin, or cannot be derived (no `REPORTS_ADDR` and no `REPORTS_BASE_URL`).
pub fn report_base_url(
    reports_base_url: Option<&str>,
    base_url: Option<&str>,
    reports_addr: Option<SocketAddr>,
) -> Result<Option<String>, ConfigError> {
    let error = |reason: &str| ConfigError { name: "REPORTS_BASE_URL", reason: reason.to_owned() };
    let derived = match (reports_base_url, base_url, reports_addr) {
        (Some(url), _, _) => Some(url.to_owned()),
        (None, Some(main), Some(addr)) => {
            let origin = Origin::parse(main).ok_or_else(|| error("BASE_URL is not an origin"))?;
            Some(origin.with_port(addr.port()).to_url())
        }
        (None, _, None) => return Err(error("is required when REPORTS_ADDR is empty")),
        (None, None, Some(_)) => None,
    };
    if let (Some(report), Some(main)) = (derived.as_deref(), base_url)
        && Origin::parse(report) == Origin::parse(main)
    {
        return Err(error("the report origin must differ from the main origin (BASE_URL)"));
    }
    Ok(derived)
}

/// Refuses a `CORS_ALLOWED_ORIGINS` list naming the report origin. When that origin is derived per request,
/// any origin on the report listener's port could be it, so those are refused too.
///
/// # Errors
/// Naming `CORS_ALLOWED_ORIGINS`.
pub fn check_cors(
    cors_allowed_origins: &str,
    report_base_url: Option<&str>,
    reports_addr: Option<SocketAddr>,
) -> Result<(), ConfigError> {
    let report = report_base_url.and_then(Origin::parse);
    for entry in cors_allowed_origins.split(',').map(str::trim).filter(|e| !e.is_empty() && *e != "*") {
        let Some(origin) = Origin::parse(entry) else { continue };
        let clash = match &report {
            Some(report) => &origin == report,
            None => reports_addr.is_some_and(|addr| addr.port() == origin.port()),
        };
        if clash {
            return Err(ConfigError {
                name: "CORS_ALLOWED_ORIGINS",
                reason: format!("{entry} is the report origin; report content must never be allowed to call the API"),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(port: u16) -> Option<SocketAddr> {
        Some(SocketAddr::from(([0, 0, 0, 0], port)))
    }

    #[test]
    fn the_report_origin_is_derived_from_the_main_one_and_must_differ() {
        let derived = report_base_url(None, Some("https://hub.example.com"), addr(8081)).unwrap();
        assert_eq!(derived.as_deref(), Some("https://hub.example.com:8081"));
        assert_eq!(report_base_url(None, None, addr(8081)).unwrap(), None, "derived per request");
        let set = report_base_url(Some("https://reports.example.com"), Some("https://hub.example.com"), None);
        assert_eq!(set.unwrap().as_deref(), Some("https://reports.example.com"));
        for (reports, main, listener) in [
            (Some("https://HUB.example.com:443"), Some("https://hub.example.com"), addr(8081)),
            (None, Some("http://hub:8081"), addr(8081)),
            (None, Some("http://hub"), None),
        ] {
            assert_eq!(report_base_url(reports, main, listener).unwrap_err().name, "REPORTS_BASE_URL");
        }
    }

    #[test]
    fn cors_may_not_name_the_report_origin() {
        let report = Some("https://reports.example.com");
        check_cors("https://app.example.com, *", report, addr(8081)).unwrap();
        let err = check_cors("https://app.example.com,https://Reports.example.com:443", report, addr(8081));
        assert_eq!(err.unwrap_err().name, "CORS_ALLOWED_ORIGINS");
        // Derived per request: the report listener's port identifies it.
        check_cors("http://localhost:3000", None, addr(8081)).unwrap();
        assert!(check_cors("http://localhost:8081", None, addr(8081)).is_err());
    }
}
