//! A string that must not leak: no `Debug`, no `Display`, no `Serialize`, zeroed on drop.

use zeroize::Zeroizing;

/// A secret value (private key PEM, passphrase). The only way to read it is [`Secret::expose`],
/// which makes every place that touches the clear text easy to find with a search.
#[derive(Clone)]
pub struct Secret(Zeroizing<String>);

impl Secret {
    pub fn new(value: String) -> Self {
        Self(Zeroizing::new(value))
    }

    /// The clear text. Call sites must only hand it to an encrypted sink (SSM SecureString) or to
    /// a comparison; never to a formatter, a log or an event.
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(****)")
    }
}

impl PartialEq for Secret {
    fn eq(&self, other: &Self) -> bool {
        // Length first, then a full scan: these comparisons are local (SSM values we already
        // hold), so constant time is not needed, but there is no reason to be clever either.
        self.0.as_bytes() == other.0.as_bytes()
    }
}

impl Eq for Secret {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_value() {
        let s = Secret::new("hunter2-very-secret".into());
        assert_eq!(format!("{s:?}"), "Secret(****)");
        assert_eq!(s.expose(), "hunter2-very-secret");
    }
}
