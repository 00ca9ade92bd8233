//! Key material. The only module that holds private keys or passphrases in the clear.
//!
//! Everything here hands secrets out as [`Secret`] values, which cannot be printed, logged or
//! serialised by accident; the callers decide where a secret may go (SSM SecureString, a 0600 file).

pub mod keypair;
pub mod pending;
pub mod secret;

pub use keypair::{KeyError, SigningKeyPair, public_key_fingerprint};
pub use secret::Secret;
