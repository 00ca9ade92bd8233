//! Values derived from others, the way Medplum derives them, trailing slashes included; and the
//! hosted zone Medplum's CDK would guess, to know when the config must name it.

/// `https://<host>/`: Medplum's base URLs always end with a slash.
pub fn https_base(host: &str) -> String {
    format!("https://{host}/")
}

/// Medplum's `concatUrls`: the path is resolved against the base with a trailing slash.
pub fn concat_url(base: &str, path: &str) -> String {
    let mut b = base.to_string();
    if !b.ends_with('/') {
        b.push('/');
    }
    b + path.trim_start_matches('/')
}

/// Where binaries are served: CloudFront in front of the storage bucket, under `binary/`.
pub fn storage_base_url(storage_domain: &str) -> String {
    format!("https://{storage_domain}/binary/")
}

pub fn binary_storage(bucket: &str) -> String {
    format!("s3:{bucket}")
}

/// `Medplum` + the name with its first letter upper-cased, as `medplum aws init` proposes.
pub fn default_stack_name(name: &str) -> String {
    let mut c = name.chars();
    match c.next() {
        Some(f) => format!("Medplum{}{}", f.to_uppercase(), c.as_str()),
        None => "Medplum".into(),
    }
}

/// The zone Medplum's CDK (4.0.2) looks up when the config has no `hostedZoneName`: the last two
/// labels of `domainName` (`HostedZone.fromLookup` with `domainName.split('.').slice(-2)`).
pub fn cdk_guessed_zone(domain: &str) -> String {
    let labels: Vec<&str> = domain.trim_end_matches('.').split('.').collect();
    labels[labels.len().saturating_sub(2)..].join(".")
}

/// Whether the config must name `zone` as `hostedZoneName` for Medplum's CDK to use it: true
/// unless the CDK's last-two-labels guess already is that zone (`acme.example.co.uk` in
/// `example.co.uk`, or a delegated `staging.example.com`, need it; `example.com` does not).
/// DNS names compare case-insensitively, with or without the trailing dot.
pub fn needs_hosted_zone_name(domain: &str, zone: &str) -> bool {
    !cdk_guessed_zone(domain).eq_ignore_ascii_case(zone.trim_end_matches('.'))
}

/// The server-side OAuth URLs, all derived from `baseUrl` unless set explicitly.
pub fn oauth_urls(base_url: &str) -> Vec<(&'static str, String)> {
    vec![
        ("issuer", base_url.to_string()),
        ("jwksUrl", concat_url(base_url, ".well-known/jwks.json")),
        ("authorizeUrl", concat_url(base_url, "oauth2/authorize")),
        ("tokenUrl", concat_url(base_url, "oauth2/token")),
        ("userInfoUrl", concat_url(base_url, "oauth2/userinfo")),
        ("introspectUrl", concat_url(base_url, "oauth2/introspect")),
        ("registerUrl", concat_url(base_url, "oauth2/register")),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_keep_medplum_slashes() {
        assert_eq!(https_base("api.example.com"), "https://api.example.com/");
        assert_eq!(
            storage_base_url("storage.example.com"),
            "https://storage.example.com/binary/"
        );
        assert_eq!(binary_storage("my-bucket"), "s3:my-bucket");
        assert_eq!(
            concat_url("https://api.example.com", "/oauth2/token"),
            "https://api.example.com/oauth2/token"
        );
        let urls = oauth_urls("https://api.example.com/");
        assert_eq!(urls[0], ("issuer", "https://api.example.com/".to_string()));
        assert_eq!(urls[1].1, "https://api.example.com/.well-known/jwks.json");
        assert_eq!(urls[6].1, "https://api.example.com/oauth2/register");
    }

    #[test]
    fn the_cdk_guesses_the_last_two_labels() {
        assert_eq!(cdk_guessed_zone("acme.example.co.uk"), "co.uk");
        assert_eq!(cdk_guessed_zone("staging.example.com."), "example.com");
        assert_eq!(cdk_guessed_zone("example.com"), "example.com");
        assert_eq!(cdk_guessed_zone("localhost"), "localhost");
    }

    #[test]
    fn hosted_zone_name_is_needed_only_when_the_guess_is_wrong() {
        // The guess is right: the config stays as Medplum's own `aws init` writes it.
        assert!(!needs_hosted_zone_name("example.com", "example.com"));
        assert!(!needs_hosted_zone_name(
            "staging.example.com",
            "example.com"
        ));
        assert!(!needs_hosted_zone_name(
            "Staging.Example.COM",
            "example.com."
        ));
        assert!(!needs_hosted_zone_name("example.com.", "EXAMPLE.com"));
        // A public suffix of two labels, and delegated sub-zones.
        assert!(needs_hosted_zone_name(
            "acme.example.co.uk",
            "example.co.uk"
        ));
        assert!(needs_hosted_zone_name("example.co.uk", "example.co.uk."));
        assert!(needs_hosted_zone_name(
            "staging.example.com",
            "staging.example.com"
        ));
        assert!(needs_hosted_zone_name(
            "a.staging.example.com",
            "Staging.Example.com."
        ));
    }

    #[test]
    fn stack_name_capitalises() {
        assert_eq!(default_stack_name("staging"), "MedplumStaging");
        assert_eq!(default_stack_name("prod"), "MedplumProd");
    }
}
