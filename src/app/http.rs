//! GET over HTTP(S) for the npm registry: hyper with rustls and the platform's trust roots.
//! `https://` anywhere; plain `http://` only to a loopback address (tests, a mirror on this
//! machine), because the integrity the download is checked against comes from the same server.
//! Every request is bounded by one timeout (connect, headers, each body chunk), and redirects
//! are followed a few times under the same rules.

use std::sync::Arc;
use std::time::Duration;

use http_body_util::{BodyExt, Empty};
use hyper::body::{Bytes, Incoming};
use hyper_rustls::{ConfigBuilderExt, HttpsConnector};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use super::AppError;

const MAX_REDIRECTS: usize = 5;

#[derive(Clone)]
pub struct HttpClient {
    client: Client<HttpsConnector<HttpConnector>, Empty<Bytes>>,
    timeout: Duration,
}

/// A response whose body is read chunk by chunk ([`Response::chunk`]).
pub struct Response {
    pub url: String,
    pub status: u16,
    /// `Content-Length`, when the server sent it.
    pub length: Option<u64>,
    body: Incoming,
    timeout: Duration,
}

impl Response {
    /// The next chunk of the body, `None` at its end.
    pub async fn chunk(&mut self) -> Result<Option<Bytes>, AppError> {
        loop {
            let frame = tokio::time::timeout(self.timeout, self.body.frame())
                .await
                .map_err(|_| registry_error(&self.url, "no data within the timeout"))?;
            match frame {
                None => return Ok(None),
                Some(Err(e)) => return Err(registry_error(&self.url, &e.to_string())),
                Some(Ok(f)) => {
                    if let Ok(data) = f.into_data() {
                        return Ok(Some(data));
                    }
                }
            }
        }
    }

    /// The whole body, refusing more than `limit` bytes.
    pub async fn bytes(mut self, limit: u64) -> Result<Vec<u8>, AppError> {
        let mut out = Vec::new();
        while let Some(c) = self.chunk().await? {
            if out.len() as u64 + c.len() as u64 > limit {
                return Err(AppError::TooLarge {
                    url: self.url.clone(),
                    limit,
                });
            }
            out.extend_from_slice(&c);
        }
        Ok(out)
    }
}

pub(super) fn registry_error(url: &str, message: &str) -> AppError {
    AppError::Registry {
        url: url.to_string(),
        message: message.to_string(),
    }
}

impl HttpClient {
    pub fn new(timeout: Duration) -> Result<Self, AppError> {
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| registry_error("TLS", &e.to_string()))?
            .with_native_roots()
            .map_err(|e| registry_error("TLS", &format!("no trust roots: {e}")))?
            .with_no_client_auth();
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .enable_http2()
            .build();
        Ok(Self {
            client: Client::builder(TokioExecutor::new()).build(https),
            timeout,
        })
    }

    /// GET `url`, following redirects; any status is returned (the caller reads 404 its way).
    pub async fn get(&self, url: &str, accept: &str) -> Result<Response, AppError> {
        let mut url = url.to_string();
        for _ in 0..=MAX_REDIRECTS {
            let uri = check_url(&url)?;
            let req = hyper::Request::get(uri)
                .header(hyper::header::ACCEPT, accept)
                .header(
                    hyper::header::USER_AGENT,
                    concat!("medplum-init/", env!("CARGO_PKG_VERSION")),
                )
                .body(Empty::new())
                .map_err(|e| registry_error(&url, &e.to_string()))?;
            let res = tokio::time::timeout(self.timeout, self.client.request(req))
                .await
                .map_err(|_| registry_error(&url, "no answer within the timeout"))?
                .map_err(|e| registry_error(&url, &error_chain(&e)))?;
            let status = res.status().as_u16();
            if (300..400).contains(&status)
                && let Some(loc) = res.headers().get(hyper::header::LOCATION)
            {
                let loc = loc.to_str().unwrap_or_default();
                url = join(&url, loc);
                continue;
            }
            let length = res
                .headers()
                .get(hyper::header::CONTENT_LENGTH)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse().ok());
            return Ok(Response {
                url,
                status,
                length,
                body: res.into_body(),
                timeout: self.timeout,
            });
        }
        Err(registry_error(&url, "too many redirects"))
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(&format!(": {c}"));
        cur = c.source();
    }
    s
}

/// A redirect's `Location`, absolute or relative to the server.
fn join(base: &str, loc: &str) -> String {
    if loc.starts_with("http://") || loc.starts_with("https://") {
        return loc.to_string();
    }
    let origin_end = base
        .find("://")
        .and_then(|i| base[i + 3..].find('/').map(|j| i + 3 + j))
        .unwrap_or(base.len());
    format!("{}/{}", &base[..origin_end], loc.trim_start_matches('/'))
}

/// `https://` to anywhere, `http://` to loopback only.
pub fn check_url(url: &str) -> Result<hyper::Uri, AppError> {
    let uri: hyper::Uri = url
        .parse()
        .map_err(|_| AppError::BadRegistryUrl(url.to_string()))?;
    let host = uri.host().unwrap_or_default();
    match uri.scheme_str() {
        Some("https") if !host.is_empty() => Ok(uri),
        Some("http") if is_loopback(host) => Ok(uri),
        _ => Err(AppError::BadRegistryUrl(url.to_string())),
    }
}

fn is_loopback(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_http_is_for_loopback_only() {
        assert!(check_url("https://registry.npmjs.org/@medplum/app/latest").is_ok());
        assert!(check_url("http://127.0.0.1:4873/@medplum/app/latest").is_ok());
        assert!(check_url("http://[::1]:4873/x").is_ok());
        assert!(check_url("http://localhost/x").is_ok());
        for bad in [
            "http://registry.npmjs.org/x",
            "http://10.0.0.1/x",
            "ftp://127.0.0.1/x",
            "registry.npmjs.org",
        ] {
            assert!(check_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn redirects_resolve_against_the_server() {
        assert_eq!(
            join(
                "https://r.example/@medplum/app/-/app-1.tgz",
                "/files/app.tgz"
            ),
            "https://r.example/files/app.tgz"
        );
        assert_eq!(
            join("https://r.example/a", "https://cdn.example/b"),
            "https://cdn.example/b"
        );
    }
}
