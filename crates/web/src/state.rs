//! What the pages need: the domain's use cases, shared with the API (the server builds them once), and the facts
//! only pages use.

use hub_domain::model::origin::Origin;
use hub_domain::services::Services;

/// Shared by every worker of the main origin: the use cases (the same instances as the API's) and what only the
/// pages need. It dereferences to [`Services`], so a page reads a use case as `state.reports`.
pub struct WebState {
    /// The use cases.
    pub services: Services,
    /// Release version, shown in the footer.
    pub version: String,
    /// Where reports are served, for the build page's frame and its `frame-src`.
    pub report_origin: ReportOrigin,
}

impl std::ops::Deref for WebState {
    type Target = Services;

    fn deref(&self) -> &Services {
        &self.services
    }
}

impl std::fmt::Debug for WebState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebState").field("version", &self.version).finish_non_exhaustive()
    }
}

/// How the report origin is known (the API's `REPORTS_BASE_URL` rule, contract §8.9).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReportOrigin {
    /// `REPORTS_BASE_URL`, fixed.
    Fixed(String),
    /// The main origin of the request (from `BASE_URL`, else the `Host` header) with this port: the report
    /// listener's own port.
    Port {
        /// `BASE_URL`, when set.
        base_url: Option<String>,
        /// The report listener's port.
        port: u16,
    },
    /// No separate report origin: reports are not framed.
    None,
}

impl ReportOrigin {
    /// The report origin for a request whose main origin is `request_origin` (`scheme://host[:port]`), without a
    /// trailing slash.
    pub fn resolve(&self, request_origin: &str) -> Option<String> {
        match self {
            Self::Fixed(url) => Origin::parse(url).map(|origin| origin.to_url()),
            Self::Port { base_url, port } => {
                let main = Origin::parse(base_url.as_deref().unwrap_or(request_origin))?;
                Some(main.with_port(*port).to_url())
            }
            Self::None => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_report_origin_is_the_fixed_url_or_the_main_host_with_the_report_port() {
        let fixed = ReportOrigin::Fixed("https://reports.example.com/".into());
        assert_eq!(fixed.resolve("http://ignored").as_deref(), Some("https://reports.example.com"));
        let port = ReportOrigin::Port { base_url: None, port: 9001 };
        assert_eq!(port.resolve("http://127.0.0.1:8080").as_deref(), Some("http://127.0.0.1:9001"));
        assert_eq!(port.resolve("http://[::1]:8080").as_deref(), Some("http://[::1]:9001"));
        let based = ReportOrigin::Port { base_url: Some("https://hub.example.com/x".into()), port: 8443 };
        assert_eq!(based.resolve("http://internal:1").as_deref(), Some("https://hub.example.com:8443"));
        assert_eq!(ReportOrigin::None.resolve("http://a"), None);
    }
}
