//! The CloudFront signing key: RSA-2048, private half as encrypted PKCS#8, public half as SPKI.
//!
//! Why PBKDF2 and not the pkcs8 crate's default: its default PBES2 parameters use scrypt with a
//! work factor that OpenSSL 3 and Node's `crypto.createPrivateKey` refuse ("memory limit
//! exceeded"). Medplum's server is Node, so the key must be PBES2 + PBKDF2-HMAC-SHA256 +
//! AES-256-CBC, which both accept.

use pkcs8::{DecodePrivateKey, EncodePublicKey, LineEnding, pkcs5::pbes2};
use rand::{Rng, RngCore, rngs::OsRng};
use rsa::{RsaPrivateKey, RsaPublicKey};
use sha2::{Digest, Sha256};

use super::Secret;

/// RSA modulus size CloudFront accepts for trusted key groups.
pub const KEY_BITS: usize = 2048;
/// PBKDF2 iterations: OWASP's 2023 figure for HMAC-SHA256. Costs ~70 ms at start-up of the server.
pub const PBKDF2_ITERATIONS: u32 = 600_000;
/// Length of the generated passphrase (alphanumeric, ~5.95 bits each, so ~285 bits).
pub const PASSPHRASE_LEN: usize = 48;

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("could not generate the RSA key: {0}")]
    Generate(String),
    #[error("could not encode the key: {0}")]
    Encode(String),
    #[error("the private key does not decrypt with the passphrase: {0}")]
    Decrypt(String),
    #[error("not a public key in SPKI PEM form (-----BEGIN PUBLIC KEY-----): {0}")]
    PublicKey(String),
}

impl crate::error::Diagnostic for KeyError {}

/// A freshly generated (or re-loaded) signing key pair.
pub struct SigningKeyPair {
    /// `-----BEGIN ENCRYPTED PRIVATE KEY-----` PEM.
    pub private_pem: Secret,
    pub passphrase: Secret,
    /// `-----BEGIN PUBLIC KEY-----` PEM, with a trailing newline.
    pub public_pem: String,
}

impl std::fmt::Debug for SigningKeyPair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKeyPair")
            .field(
                "public_fingerprint",
                &public_key_fingerprint(&self.public_pem).ok(),
            )
            .finish_non_exhaustive()
    }
}

impl SigningKeyPair {
    /// Generates a new key from the operating system's CSPRNG.
    pub fn generate() -> Result<Self, KeyError> {
        let private = RsaPrivateKey::new(&mut OsRng, KEY_BITS)
            .map_err(|e| KeyError::Generate(e.to_string()))?;
        let passphrase = Secret::new(random_passphrase());
        let private_pem = encrypt_private_key(&private, &passphrase)?;
        let public_pem = RsaPublicKey::from(&private)
            .to_public_key_pem(LineEnding::LF)
            .map_err(|e| KeyError::Encode(e.to_string()))?;
        Ok(Self {
            private_pem,
            passphrase,
            public_pem,
        })
    }

    /// Re-reads a pair from its stored parts and checks that the halves belong together.
    pub fn from_parts(
        private_pem: Secret,
        passphrase: Secret,
        public_pem: &str,
    ) -> Result<Self, KeyError> {
        let derived = public_pem_of_encrypted(&private_pem, &passphrase)?;
        if !same_public_key(&derived, public_pem)? {
            return Err(KeyError::Decrypt(
                "the private key does not match the public key".into(),
            ));
        }
        Ok(Self {
            private_pem,
            passphrase,
            public_pem: derived,
        })
    }

    /// SHA-256 of the SPKI DER, hex: a non-secret name for the key, safe for journals and logs.
    pub fn fingerprint(&self) -> String {
        public_key_fingerprint(&self.public_pem).expect("generated public keys always parse")
    }
}

fn random_passphrase() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = OsRng;
    (0..PASSPHRASE_LEN)
        .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char)
        .collect()
}

fn encrypt_private_key(key: &RsaPrivateKey, passphrase: &Secret) -> Result<Secret, KeyError> {
    use pkcs8::EncodePrivateKey;
    let der = key
        .to_pkcs8_der()
        .map_err(|e| KeyError::Encode(e.to_string()))?;
    let info = pkcs8::PrivateKeyInfo::try_from(der.as_bytes())
        .map_err(|e| KeyError::Encode(e.to_string()))?;
    let mut salt = [0u8; 16];
    let mut iv = [0u8; 16];
    OsRng.fill_bytes(&mut salt);
    OsRng.fill_bytes(&mut iv);
    let params = pbes2::Parameters::pbkdf2_sha256_aes256cbc(PBKDF2_ITERATIONS, &salt, &iv)
        .map_err(|e| KeyError::Encode(format!("{e:?}")))?;
    let doc = info
        .encrypt_with_params(params, passphrase.expose().as_bytes())
        .map_err(|e| KeyError::Encode(e.to_string()))?;
    let pem = doc
        .to_pem("ENCRYPTED PRIVATE KEY", LineEnding::LF)
        .map_err(|e| KeyError::Encode(e.to_string()))?;
    Ok(Secret::new(pem.to_string()))
}

/// Decrypts an encrypted PKCS#8 PEM and returns the SPKI PEM of its public half.
pub fn public_pem_of_encrypted(
    private_pem: &Secret,
    passphrase: &Secret,
) -> Result<String, KeyError> {
    let key = RsaPrivateKey::from_pkcs8_encrypted_pem(
        private_pem.expose(),
        passphrase.expose().as_bytes(),
    )
    .map_err(|e| KeyError::Decrypt(e.to_string()))?;
    RsaPublicKey::from(&key)
        .to_public_key_pem(LineEnding::LF)
        .map_err(|e| KeyError::Encode(e.to_string()))
}

fn public_der(pem: &str) -> Result<Vec<u8>, KeyError> {
    use pkcs8::DecodePublicKey;
    let key = RsaPublicKey::from_public_key_pem(pem.trim())
        .map_err(|e| KeyError::PublicKey(e.to_string()))?;
    Ok(key
        .to_public_key_der()
        .map_err(|e| KeyError::Encode(e.to_string()))?
        .as_bytes()
        .to_vec())
}

/// Validates an SPKI PEM and returns its RSA modulus size in bits.
pub fn public_key_bits(pem: &str) -> Result<usize, KeyError> {
    use pkcs8::DecodePublicKey;
    use rsa::traits::PublicKeyParts;
    let key = RsaPublicKey::from_public_key_pem(pem.trim())
        .map_err(|e| KeyError::PublicKey(e.to_string()))?;
    Ok(key.n().bits())
}

/// True when two SPKI PEMs hold the same key, whatever their line endings and wrapping.
pub fn same_public_key(a: &str, b: &str) -> Result<bool, KeyError> {
    Ok(public_der(a)? == public_der(b)?)
}

/// SHA-256 over the SPKI DER, lower-case hex.
pub fn public_key_fingerprint(pem: &str) -> Result<String, KeyError> {
    let digest = Sha256::digest(public_der(pem)?);
    Ok(digest.iter().map(|b| format!("{b:02x}")).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_pair_round_trips() {
        let pair = SigningKeyPair::generate().unwrap();
        assert!(
            pair.private_pem
                .expose()
                .starts_with("-----BEGIN ENCRYPTED PRIVATE KEY-----\n")
        );
        assert!(pair.public_pem.starts_with("-----BEGIN PUBLIC KEY-----\n"));
        assert!(pair.passphrase.len() >= 32);
        assert_eq!(public_key_bits(&pair.public_pem).unwrap(), 2048);
        let again = SigningKeyPair::from_parts(
            pair.private_pem.clone(),
            pair.passphrase.clone(),
            &pair.public_pem,
        )
        .unwrap();
        assert_eq!(again.fingerprint(), pair.fingerprint());
    }

    #[test]
    fn wrong_passphrase_is_refused() {
        let pair = SigningKeyPair::generate().unwrap();
        let err =
            public_pem_of_encrypted(&pair.private_pem, &Secret::new("not-it".into())).unwrap_err();
        assert!(matches!(err, KeyError::Decrypt(_)));
    }

    #[test]
    fn mismatched_halves_are_refused() {
        let a = SigningKeyPair::generate().unwrap();
        let b = SigningKeyPair::generate().unwrap();
        assert!(
            SigningKeyPair::from_parts(a.private_pem.clone(), a.passphrase.clone(), &b.public_pem)
                .is_err()
        );
        assert!(!same_public_key(&a.public_pem, &b.public_pem).unwrap());
    }

    #[test]
    fn passphrases_differ_and_are_alphanumeric() {
        let a = random_passphrase();
        let b = random_passphrase();
        assert_ne!(a, b);
        assert_eq!(a.len(), PASSPHRASE_LEN);
        assert!(a.chars().all(|c| c.is_ascii_alphanumeric()));
    }
}
