//! The client address of a request, as far as the configured proxies can be trusted.

use std::net::IpAddr;

use actix_web::HttpRequest;

/// The TCP peer, or with `trust_proxy = N ≥ 1` the N-th address from the right of `X-Forwarded-For` (each trusted
/// proxy appends the address it received the request from), falling back to the peer when the header has fewer
/// entries or an unparsable one there.
pub fn client_ip(req: &HttpRequest, trust_proxy: usize) -> Option<IpAddr> {
    let peer = req.peer_addr().map(|a| a.ip());
    if trust_proxy == 0 {
        return peer;
    }
    let forwarded: Vec<&str> = req
        .headers()
        .get_all("x-forwarded-for")
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    forwarded.len().checked_sub(trust_proxy).and_then(|i| forwarded.get(i)).and_then(|s| s.parse().ok()).or(peer)
}

#[cfg(test)]
mod tests {
    use actix_web::test::TestRequest;

    use super::*;

    fn request(xff: Option<&str>) -> HttpRequest {
        let mut req = TestRequest::default().peer_addr("10.0.0.9:5000".parse().unwrap());
        if let Some(xff) = xff {
            req = req.insert_header(("X-Forwarded-For", xff));
        }
        req.to_http_request()
    }

    #[test]
    fn without_trusted_proxies_the_peer_is_the_client() {
        assert_eq!(client_ip(&request(Some("1.2.3.4")), 0), Some("10.0.0.9".parse().unwrap()));
    }

    #[test]
    fn the_nth_address_from_the_right_is_taken() {
        let req = request(Some("6.6.6.6, 1.2.3.4, 172.16.0.2"));
        assert_eq!(client_ip(&req, 1), Some("172.16.0.2".parse().unwrap()));
        assert_eq!(client_ip(&req, 2), Some("1.2.3.4".parse().unwrap()));
        assert_eq!(client_ip(&req, 4), Some("10.0.0.9".parse().unwrap()), "too few entries: the peer");
        assert_eq!(client_ip(&request(None), 1), Some("10.0.0.9".parse().unwrap()));
    }
}
