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
    /// After 20 hops, or when a request fails.
    pub async fn visit(&mut self, url: Url, stop_prefix: &str) -> Visit {
        let mut url = url;
        for _ in 0..20 {
            let request = self.http.get(url.clone());
            match self.step(url, request, stop_prefix).await {
                Step::Next(next) => url = next,
                Step::Done(visit) => return visit,
            }
        }
        panic!("more than 20 redirects during sign-in");
    }

    /// POSTs `form` (urlencoded) to `url` with the jar's cookies, as a submitted HTML form
    /// does, then follows redirects like [`Browser::visit`].
    ///
    /// # Panics
    /// After 20 hops, or when a request fails.
    pub async fn post_form(&mut self, url: Url, form: &[(&str, &str)], stop_prefix: &str) -> Visit {
        let request = self.http.post(url.clone()).form(form);
        match self.step(url, request, stop_prefix).await {
            Step::Next(next) => self.visit(next, stop_prefix).await,
            Step::Done(visit) => visit,
        }
    }

    /// Sends one request with the jar's cookies and keeps the cookies it sets.
    async fn step(
        &mut self,
        url: Url,
        mut request: reqwest::RequestBuilder,
        stop_prefix: &str,
    ) -> Step {
        if let Some(cookie) = self.jar.header_for(&url) {
            request = request.header(reqwest::header::COOKIE, cookie);
        }
        let response = request.send().await.expect("sign-in step");
        for set_cookie in response.headers().get_all(reqwest::header::SET_COOKIE) {
            self.jar.store(set_cookie.to_str().expect("ASCII cookie"));
        }
        let status = response.status();
        let location = response
            .headers()
            .get(reqwest::header::LOCATION)
            .map(|l| l.to_str().expect("ASCII Location").to_owned());
        let Some(location) = location.filter(|_| status.is_redirection()) else {
            let body = response.text().await.unwrap_or_default();
            return Step::Done(Visit::Page { url, status, body });
        };
        let next = url.join(&location).expect("Location is a URL");
        if next.as_str().starts_with(stop_prefix) {
            return Step::Done(Visit::Redirected(next));
        }
        Step::Next(next)
    }
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
