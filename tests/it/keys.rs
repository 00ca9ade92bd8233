//! The signing key against the programs that must read it: OpenSSL, and Node's crypto (Medplum's
//! server runtime, which signs CloudFront URLs with RSA-SHA1 through `crypto.createSign`).

use std::process::Command;

use medplum_init::crypto::SigningKeyPair;
use medplum_init::crypto::keypair::same_public_key;

fn write_private(dir: &std::path::Path, pair: &SigningKeyPair) -> std::path::PathBuf {
    let p = dir.join("key.pem");
    medplum_init::fsutil::write_atomic(&p, pair.private_pem.expose().as_bytes(), 0o600).unwrap();
    p
}

#[test]
fn openssl_reads_the_encrypted_key_and_both_halves_match() {
    let dir = tempfile::tempdir().unwrap();
    let pair = SigningKeyPair::generate().unwrap();
    let key = write_private(dir.path(), &pair);
    // The passphrase goes through the environment, never argv.
    let out = Command::new("openssl")
        .args(["pkey", "-in"])
        .arg(&key)
        .args(["-passin", "env:MEDPLUM_TEST_PASS", "-pubout"])
        .env("MEDPLUM_TEST_PASS", pair.passphrase.expose())
        .output()
        .expect("openssl is installed");
    assert!(
        out.status.success(),
        "openssl refused the key: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let public = String::from_utf8(out.stdout).unwrap();
    assert!(
        same_public_key(&public, &pair.public_pem).unwrap(),
        "openssl derived another public key"
    );

    // The PBES2 parameters are the ones Node and OpenSSL 3 accept.
    let asn1 = Command::new("openssl")
        .args(["asn1parse", "-in"])
        .arg(&key)
        .output()
        .unwrap();
    let asn1 = String::from_utf8_lossy(&asn1.stdout);
    for oid in ["PBES2", "PBKDF2", "hmacWithSHA256", "aes-256-cbc"] {
        assert!(asn1.contains(oid), "missing {oid} in\n{asn1}");
    }
    assert!(!asn1.contains("scrypt"));

    // The SPKI half is what CloudFront's EncodedKey and storagePublicKey take.
    let pubfile = dir.path().join("pub.pem");
    std::fs::write(&pubfile, &pair.public_pem).unwrap();
    let out = Command::new("openssl")
        .args(["rsa", "-pubin", "-in"])
        .arg(&pubfile)
        .args(["-noout", "-text"])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("Public-Key: (2048 bit)"));

    // A wrong passphrase is refused.
    let out = Command::new("openssl")
        .args(["pkey", "-in"])
        .arg(&key)
        .args(["-passin", "env:P", "-noout"])
        .env("P", "wrong")
        .output()
        .unwrap();
    assert!(!out.status.success());
}

const NODE_CHECK: &str = r#"
const crypto = require('crypto');
const fs = require('fs');
const key = crypto.createPrivateKey({ key: fs.readFileSync(process.argv[1]), passphrase: process.env.MEDPLUM_TEST_PASS });
const spki = fs.readFileSync(process.argv[2]);
const pub = crypto.createPublicKey(key).export({ type: 'spki', format: 'pem' });
const data = Buffer.from('https://storage.example.com/binary/x?Expires=1');
const signer = crypto.createSign('RSA-SHA1');
signer.update(data);
const sig = signer.sign({ key: fs.readFileSync(process.argv[1]), passphrase: process.env.MEDPLUM_TEST_PASS });
const ok = crypto.verify('RSA-SHA1', data, crypto.createPublicKey(spki), sig);
process.stdout.write(JSON.stringify({ pub, ok, bits: key.asymmetricKeyDetails.modulusLength }));
"#;

#[test]
fn node_crypto_loads_the_key_and_signs_like_cloudfront_urls() {
    let dir = tempfile::tempdir().unwrap();
    let pair = SigningKeyPair::generate().unwrap();
    let key = write_private(dir.path(), &pair);
    let pubfile = dir.path().join("pub.pem");
    std::fs::write(&pubfile, &pair.public_pem).unwrap();
    let out = Command::new("node")
        .arg("-e")
        .arg(NODE_CHECK)
        .arg(&key)
        .arg(&pubfile)
        .env("MEDPLUM_TEST_PASS", pair.passphrase.expose())
        .output()
        .expect("node is installed");
    assert!(
        out.status.success(),
        "node refused the key: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["ok"], true, "signature did not verify with the SPKI half");
    assert_eq!(v["bits"], 2048);
    assert!(same_public_key(v["pub"].as_str().unwrap(), &pair.public_pem).unwrap());

    let out = Command::new("node")
        .arg("-e")
        .arg(NODE_CHECK)
        .arg(&key)
        .arg(&pubfile)
        .env("MEDPLUM_TEST_PASS", "wrong")
        .output()
        .unwrap();
    assert!(!out.status.success(), "node accepted a wrong passphrase");
}
