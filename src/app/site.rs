//! The site as it is published: the config's values in the placeholders Medplum's build leaves
//! in the JavaScript (`__MEDPLUM_BASE_URL__`...), and each object's key, Content-Type and
//! Cache-Control. Pure: no I/O.
//!
//! Cache headers: files under `assets/` carry a content hash in their names, so browsers may
//! keep them a year; `index.html` must never be cached, or a visitor keeps loading the old
//! assets after a publish; the rest (robots.txt, images under fixed names) an hour.

use md5::{Digest, Md5};

use super::package::File;

pub const INDEX: &str = "index.html";
pub const HASHED_CACHE: &str = "public, max-age=31536000";
pub const INDEX_CACHE: &str = "no-cache, no-store, must-revalidate";
pub const OTHER_CACHE: &str = "public, max-age=3600";

/// The values Medplum's `update-app` puts into the app, from the CDK config.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Settings {
    /// `baseUrl`: the API the app talks to.
    pub base_url: String,
    pub client_id: String,
    pub google_client_id: String,
    pub recaptcha_site_key: String,
    pub register_enabled: bool,
}

impl Settings {
    /// Placeholder → value, in the order Medplum's CLI lists them.
    pub fn replacements(&self) -> [(&'static str, String); 5] {
        [
            ("__MEDPLUM_BASE_URL__", self.base_url.clone()),
            ("__MEDPLUM_CLIENT_ID__", self.client_id.clone()),
            ("__GOOGLE_CLIENT_ID__", self.google_client_id.clone()),
            ("__RECAPTCHA_SITE_KEY__", self.recaptcha_site_key.clone()),
            (
                "__MEDPLUM_REGISTER_ENABLED__",
                self.register_enabled.to_string(),
            ),
        ]
    }
}

/// One object of the bucket to be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Object {
    pub key: String,
    pub body: Vec<u8>,
    pub content_type: &'static str,
    pub cache_control: &'static str,
    /// Hex MD5 of the body: S3's ETag of a single-part PutObject.
    pub md5: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Site {
    pub objects: Vec<Object>,
    /// `(key, placeholder)` still in a file after replacement.
    pub leftovers: Vec<(String, &'static str)>,
}

pub fn build(files: Vec<File>, settings: &Settings) -> Site {
    let replacements = settings.replacements();
    let mut site = Site::default();
    for f in files {
        let mut body = f.body;
        if f.path.ends_with(".js") || f.path.ends_with(".mjs") {
            for (placeholder, value) in &replacements {
                body = replace(&body, placeholder.as_bytes(), value.as_bytes());
            }
        }
        for (placeholder, _) in &replacements {
            if contains(&body, placeholder.as_bytes()) {
                site.leftovers.push((f.path.clone(), *placeholder));
            }
        }
        site.objects.push(Object {
            content_type: content_type(&f.path),
            cache_control: cache_control(&f.path),
            md5: hex(&Md5::digest(&body)),
            key: f.path,
            body,
        });
    }
    site
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

fn replace(hay: &[u8], needle: &[u8], with: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(hay.len());
    let mut i = 0;
    while i < hay.len() {
        if hay[i..].starts_with(needle) {
            out.extend_from_slice(with);
            i += needle.len();
        } else {
            out.push(hay[i]);
            i += 1;
        }
    }
    out
}

pub fn cache_control(key: &str) -> &'static str {
    if key.ends_with(".html") {
        INDEX_CACHE
    } else if key.starts_with("assets/") {
        HASHED_CACHE
    } else {
        OTHER_CACHE
    }
}

pub fn content_type(key: &str) -> &'static str {
    let ext = key.rsplit_once('.').map(|(_, e)| e).unwrap_or_default();
    match ext.to_ascii_lowercase().as_str() {
        "html" | "htm" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "json" | "map" => "application/json",
        "webmanifest" => "application/manifest+json",
        "txt" => "text/plain; charset=utf-8",
        "xml" => "application/xml",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "avif" => "image/avif",
        "ico" => "image/x-icon",
        "woff" => "font/woff",
        "woff2" => "font/woff2",
        "ttf" => "font/ttf",
        "otf" => "font/otf",
        "wasm" => "application/wasm",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(path: &str, body: &str) -> File {
        File {
            path: path.into(),
            body: body.as_bytes().to_vec(),
        }
    }

    #[test]
    fn placeholders_are_replaced_in_javascript_and_leftovers_reported() {
        let s = Settings {
            base_url: "https://api.example.com/".into(),
            client_id: "c1".into(),
            register_enabled: false,
            ..Default::default()
        };
        let site = build(
            vec![
                file(
                    "assets/index-1a2b.js",
                    "a=\"__MEDPLUM_BASE_URL__\";b=\"__MEDPLUM_CLIENT_ID__\";c=\"__GOOGLE_CLIENT_ID__\";d=\"__RECAPTCHA_SITE_KEY__\";e=\"__MEDPLUM_REGISTER_ENABLED__\"",
                ),
                file("index.html", "<script>__MEDPLUM_BASE_URL__</script>"),
            ],
            &s,
        );
        let js = String::from_utf8(site.objects[0].body.clone()).unwrap();
        assert_eq!(
            js,
            "a=\"https://api.example.com/\";b=\"c1\";c=\"\";d=\"\";e=\"false\""
        );
        assert_eq!(
            site.leftovers,
            vec![("index.html".to_string(), "__MEDPLUM_BASE_URL__")]
        );
        assert_eq!(site.objects[0].md5, hex(&Md5::digest(js.as_bytes())));
    }

    #[test]
    fn headers_by_kind_of_file() {
        assert_eq!(cache_control("index.html"), INDEX_CACHE);
        assert_eq!(cache_control("assets/index-1a2b.js"), HASHED_CACHE);
        assert_eq!(cache_control("robots.txt"), OTHER_CACHE);
        assert_eq!(
            content_type("assets/a.js"),
            "text/javascript; charset=utf-8"
        );
        assert_eq!(content_type("assets/a.js.map"), "application/json");
        assert_eq!(content_type("img/logo.SVG"), "image/svg+xml");
        assert_eq!(content_type("LICENSE"), "application/octet-stream");
    }
}
