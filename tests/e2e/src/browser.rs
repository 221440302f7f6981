//! What a user agent does during sign-in: GETs and form posts, following redirects, keeping
//! cookies.

use reqwest::{StatusCode, Url};

/// A cookie jar for one host, enough for the IdP's login cookies (name, value, path).
#[derive(Default)]
struct CookieJar {
    cookies: Vec<(String, String, String)>,
}

impl CookieJar {
    fn store(&mut self, set_cookie: &str) {
        let mut parts = set_cookie.split(';').map(str::trim);
        let Some((name, value)) = parts.next().and_then(|nv| nv.split_once('=')) else {
            return;
        };
        let mut path = "/".to_owned();
        let mut expired = value.is_empty();
        for attribute in parts {
            let (key, val) = attribute.split_once('=').unwrap_or((attribute, ""));
            match key.to_ascii_lowercase().as_str() {
                "path" => path = val.to_owned(),
                "max-age" => expired |= val.trim() == "0",
                "expires" => expired |= val.contains("1970"),
                _ => {}
            }
        }
        self.cookies.retain(|(n, _, p)| !(n == name && *p == path));
        if !expired {
            self.cookies.push((name.to_owned(), value.to_owned(), path));
        }
    }

    fn header_for(&self, url: &Url) -> Option<String> {
        let pairs: Vec<String> = self
            .cookies
            .iter()
            .filter(|(_, _, path)| url.path().starts_with(path.as_str()))
            .map(|(name, value, _)| format!("{name}={value}"))
            .collect();
        (!pairs.is_empty()).then(|| pairs.join("; "))
    }
}

/// Where a [`Browser`] visit ended.
#[derive(Debug)]
pub enum Visit {
    /// A redirect to the awaited URL (not requested).
    Redirected(Url),
    /// A page that is not a redirect.
    Page {
        /// The page's URL.
        url: Url,
        /// Its status.
        status: StatusCode,
        /// Its body.
        body: String,
    },
}

/// A minimal browser for sign-in: GETs and form posts, following redirects, keeping cookies.
pub struct Browser {
    http: reqwest::Client,
    jar: CookieJar,
}

impl Browser {
    /// A browser with an empty cookie jar; `http` must not follow redirects itself
    /// (see [`crate::http_client`]).
    pub fn new(http: &reqwest::Client) -> Self {
        Self {
            http: http.clone(),
            jar: CookieJar::default(),
        }
    }

    /// GETs `url` and follows redirects until one points at `stop_prefix` (returned without
    /// being requested) or an answer is not a redirect.
    ///
    /// # Panics
    /// After 20 hops, or when a request fails; [`Browser::try_visit`] says so instead.
    pub async fn visit(&mut self, url: Url, stop_prefix: &str) -> Visit {
        self.try_visit(url, stop_prefix)
            .await
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// POSTs `form` (urlencoded) to `url` with the jar's cookies, as a submitted HTML form
    /// does, then follows redirects like [`Browser::visit`].
    ///
    /// # Panics
    /// After 20 hops, or when a request fails; [`Browser::try_post_form`] says so instead.
    pub async fn post_form(&mut self, url: Url, form: &[(&str, &str)], stop_prefix: &str) -> Visit {
        self.try_post_form(url, form, stop_prefix)
            .await
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// [`Browser::visit`] for callers that expect failures (a service that is down): a
    /// request that fails, or too many redirects, is an error rather than a panic.
    pub async fn try_visit(&mut self, url: Url, stop_prefix: &str) -> Result<Visit, BrowserError> {
        let mut url = url;
        for _ in 0..MAX_HOPS {
            let request = self.http.get(url.clone());
            match self.step(url, request, stop_prefix).await? {
                Step::Next(next) => url = next,
                Step::Done(visit) => return Ok(visit),
            }
        }
        Err(BrowserError::TooManyRedirects)
    }

    /// [`Browser::post_form`], with failures as errors like [`Browser::try_visit`].
    pub async fn try_post_form(
        &mut self,
        url: Url,
        form: &[(&str, &str)],
        stop_prefix: &str,
    ) -> Result<Visit, BrowserError> {
        let request = self.http.post(url.clone()).form(form);
        match self.step(url, request, stop_prefix).await? {
            Step::Next(next) => self.try_visit(next, stop_prefix).await,
            Step::Done(visit) => Ok(visit),
        }
    }

    /// Sends one request with the jar's cookies and keeps the cookies it sets.
    async fn step(
        &mut self,
        url: Url,
        mut request: reqwest::RequestBuilder,
        stop_prefix: &str,
    ) -> Result<Step, BrowserError> {
        if let Some(cookie) = self.jar.header_for(&url) {
            request = request.header(reqwest::header::COOKIE, cookie);
        }
        let response = request
            .send()
            .await
            .map_err(|source| BrowserError::Request {
                // Scheme, host, port and path: a query may carry a code or a state.
                at: format!("{}{}", url.origin().ascii_serialization(), url.path()),
                source,
            })?;
        for set_cookie in response.headers().get_all(reqwest::header::SET_COOKIE) {
            let set_cookie = set_cookie.to_str().map_err(|_| BrowserError::NotAscii)?;
            self.jar.store(set_cookie);
        }
        let status = response.status();
        let location = match response.headers().get(reqwest::header::LOCATION) {
            Some(location) => Some(location.to_str().map_err(|_| BrowserError::NotAscii)?),
            None => None,
        };
        let Some(location) = location.filter(|_| status.is_redirection()) else {
            let body = response.text().await.unwrap_or_default();
            return Ok(Step::Done(Visit::Page { url, status, body }));
        };
        let next = url
            .join(location)
            .map_err(|_| BrowserError::BadLocation(location.to_owned()))?;
        if next.as_str().starts_with(stop_prefix) {
            return Ok(Step::Done(Visit::Redirected(next)));
        }
        Ok(Step::Next(next))
    }
}

/// How many requests a visit makes at most before it gives up.
const MAX_HOPS: usize = 20;

/// Why a [`Browser`] visit stopped short of an answer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BrowserError {
    /// A request failed: nothing listens, the connection broke, or it timed out.
    #[error("sign-in step {at}: {source}")]
    Request {
        /// Where the request went (no query).
        at: String,
        /// Why it failed.
        #[source]
        source: reqwest::Error,
    },
    /// More than 20 redirects.
    #[error("more than {MAX_HOPS} redirects during sign-in")]
    TooManyRedirects,
    /// A `Set-Cookie` or `Location` header that is not ASCII.
    #[error("a Set-Cookie or Location header is not ASCII")]
    NotAscii,
    /// A `Location` that is not a URL.
    #[error("Location {0:?} is not a URL")]
    BadLocation(String),
}

/// What one request of a visit led to.
enum Step {
    /// A redirect to follow.
    Next(Url),
    /// The end of the visit.
    Done(Visit),
}

/// The first value of a query parameter.
pub fn query_param(url: &Url, name: &str) -> Option<String> {
    url.query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}
