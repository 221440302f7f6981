//! `Algorithm`: the JWS algorithms this crate knows, and which key types each needs.

use std::fmt;
use std::str::FromStr;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use josekit::jwk::Jwk;
use josekit::jws::{self, JwsVerifier};

/// A JWS signature algorithm (RFC 7518 §3, RFC 8037).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Algorithm {
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    Rs256,
    /// RSASSA-PKCS1-v1_5 with SHA-384.
    Rs384,
    /// RSASSA-PKCS1-v1_5 with SHA-512.
    Rs512,
    /// RSASSA-PSS with SHA-256.
    Ps256,
    /// RSASSA-PSS with SHA-384.
    Ps384,
    /// RSASSA-PSS with SHA-512.
    Ps512,
    /// ECDSA P-256 with SHA-256.
    Es256,
    /// ECDSA P-384 with SHA-384.
    Es384,
    /// ECDSA P-521 with SHA-512.
    Es512,
    /// EdDSA (Ed25519 or Ed448).
    EdDsa,
    /// HMAC with SHA-256 (shared secret only).
    Hs256,
    /// HMAC with SHA-384 (shared secret only).
    Hs384,
    /// HMAC with SHA-512 (shared secret only).
    Hs512,
}

/// The family of keys an algorithm needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum KeyFamily {
    Rsa,
    Ec(&'static str),
    Okp,
    Oct,
}

impl Algorithm {
    /// Every asymmetric algorithm, the default allow-list for a JWKS.
    pub const ASYMMETRIC: [Algorithm; 10] = [
        Algorithm::Rs256,
        Algorithm::Rs384,
        Algorithm::Rs512,
        Algorithm::Ps256,
        Algorithm::Ps384,
        Algorithm::Ps512,
        Algorithm::Es256,
        Algorithm::Es384,
        Algorithm::Es512,
        Algorithm::EdDsa,
    ];

    /// The `alg` header value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Rs256 => "RS256",
            Self::Rs384 => "RS384",
            Self::Rs512 => "RS512",
            Self::Ps256 => "PS256",
            Self::Ps384 => "PS384",
            Self::Ps512 => "PS512",
            Self::Es256 => "ES256",
            Self::Es384 => "ES384",
            Self::Es512 => "ES512",
            Self::EdDsa => "EdDSA",
            Self::Hs256 => "HS256",
            Self::Hs384 => "HS384",
            Self::Hs512 => "HS512",
        }
    }

    /// Whether this is an HMAC algorithm (needs a shared secret).
    pub fn is_symmetric(self) -> bool {
        matches!(self, Self::Hs256 | Self::Hs384 | Self::Hs512)
    }

    pub(crate) fn family(self) -> KeyFamily {
        match self {
            Self::Rs256 | Self::Rs384 | Self::Rs512 | Self::Ps256 | Self::Ps384 | Self::Ps512 => {
                KeyFamily::Rsa
            }
            Self::Es256 => KeyFamily::Ec("P-256"),
            Self::Es384 => KeyFamily::Ec("P-384"),
            Self::Es512 => KeyFamily::Ec("P-521"),
            Self::EdDsa => KeyFamily::Okp,
            Self::Hs256 | Self::Hs384 | Self::Hs512 => KeyFamily::Oct,
        }
    }

    /// Minimum HMAC key length: the hash output size (RFC 7518 §3.2).
    pub(crate) fn min_secret_len(self) -> usize {
        match self {
            Self::Hs384 => 48,
            Self::Hs512 => 64,
            _ => 32,
        }
    }

    /// Whether a JWK is of the type and curve this algorithm needs.
    pub(crate) fn fits(self, jwk: &Jwk) -> bool {
        match (self.family(), jwk.key_type()) {
            (KeyFamily::Rsa, "RSA") => true,
            (KeyFamily::Ec(crv), "EC") => jwk.curve() == Some(crv),
            (KeyFamily::Okp, "OKP") => matches!(jwk.curve(), Some("Ed25519" | "Ed448")),
            _ => false,
        }
    }

    /// A verifier for a public JWK. Measured per verification on x86-64 (OpenSSL 3.0, ring
    /// 0.17; criterion and callgrind, see docs/benchmarks.md): RSA PKCS#1 v1.5 through OpenSSL's
    /// bare public-key operation, which skips the EVP set-up josekit pays per call and beats
    /// ring, which re-derives the key's Montgomery constants per call; RSA-PSS, ES256, ES384 and
    /// Ed25519 through ring (Ed25519 about four times faster than josekit); ES512 and Ed448,
    /// which ring lacks, through josekit.
    pub(crate) fn verifier_from_jwk(self, jwk: &Jwk) -> Result<KeyVerifier, String> {
        use ring::signature as rs;
        let pkcs1 = |hash: Pkcs1Hash| KeyVerifier::rsa_pkcs1(hash, jwk);
        let pss = |params: &'static rs::RsaParameters| KeyVerifier::rsa_pss(params, jwk);
        let ec = |alg: &'static rs::EcdsaVerificationAlgorithm, len: usize| {
            KeyVerifier::ec(alg, len, jwk)
        };
        let jose = |r: Result<Box<dyn JwsVerifier>, josekit::JoseError>| {
            r.map(KeyVerifier::Jose).map_err(|e| e.to_string())
        };
        match self {
            Self::Rs256 => pkcs1(Pkcs1Hash::Sha256),
            Self::Rs384 => pkcs1(Pkcs1Hash::Sha384),
            Self::Rs512 => pkcs1(Pkcs1Hash::Sha512),
            // JWS PSS uses a salt as long as the hash (RFC 7518 §3.5), as ring does.
            Self::Ps256 => pss(&rs::RSA_PSS_2048_8192_SHA256),
            Self::Ps384 => pss(&rs::RSA_PSS_2048_8192_SHA384),
            Self::Ps512 => pss(&rs::RSA_PSS_2048_8192_SHA512),
            // JWS ECDSA signatures are R || S of fixed width (RFC 7518 §3.4), not DER.
            Self::Es256 => ec(&rs::ECDSA_P256_SHA256_FIXED, 32),
            Self::Es384 => ec(&rs::ECDSA_P384_SHA384_FIXED, 48),
            Self::Es512 => jose(jws::ES512.verifier_from_jwk(jwk).map(|v| Box::new(v) as _)),
            Self::EdDsa if jwk.curve() == Some("Ed25519") => {
                let x = jwk_bytes(jwk, "x")?;
                if x.len() != rs::ED25519_PUBLIC_KEY_LEN {
                    return Err(format!("Ed25519 key is {} bytes, not 32", x.len()));
                }
                Ok(KeyVerifier::Ring(rs::UnparsedPublicKey::new(
                    &rs::ED25519,
                    x,
                )))
            }
            Self::EdDsa => jose(jws::EdDSA.verifier_from_jwk(jwk).map(|v| Box::new(v) as _)),
            Self::Hs256 | Self::Hs384 | Self::Hs512 => {
                Err("HMAC keys are never taken from a JWKS".to_owned())
            }
        }
    }

    /// A josekit verifier for a shared secret.
    pub(crate) fn verifier_from_secret(
        self,
        secret: &[u8],
    ) -> Result<Box<dyn JwsVerifier>, String> {
        let r: Result<Box<dyn JwsVerifier>, josekit::JoseError> = match self {
            Self::Hs256 => jws::HS256
                .verifier_from_bytes(secret)
                .map(|v| Box::new(v) as _),
            Self::Hs384 => jws::HS384
                .verifier_from_bytes(secret)
                .map(|v| Box::new(v) as _),
            Self::Hs512 => jws::HS512
                .verifier_from_bytes(secret)
                .map(|v| Box::new(v) as _),
            other => return Err(format!("{other} needs an asymmetric key")),
        };
        r.map_err(|e| e.to_string())
    }
}

/// A ready verifier for one public key and one algorithm, built once per JWKS fetch.
pub(crate) enum KeyVerifier {
    /// RSASSA-PKCS1-v1_5: OpenSSL's public-key operation (which caches the key's Montgomery
    /// context) and the encoding check of RFC 8017 §8.2.2 done here.
    RsaPkcs1 {
        key: openssl::rsa::Rsa<openssl::pkey::Public>,
        hash: Pkcs1Hash,
    },
    /// RSASSA-PSS through ring: the modulus and exponent, big-endian without leading zeros.
    RsaPss {
        params: &'static ring::signature::RsaParameters,
        n: Vec<u8>,
        e: Vec<u8>,
    },
    /// ECDSA (P-256, P-384) and Ed25519 through ring.
    Ring(ring::signature::UnparsedPublicKey<Vec<u8>>),
    /// Algorithms ring lacks (ES512, Ed448) through josekit.
    Jose(Box<dyn JwsVerifier>),
}

/// The hash of an RS* algorithm and the DER `DigestInfo` prefix that precedes the digest in an
/// EMSA-PKCS1-v1_5 encoding (RFC 8017 §9.2, note 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Pkcs1Hash {
    Sha256,
    Sha384,
    Sha512,
}

impl Pkcs1Hash {
    fn digest_info_prefix(self) -> &'static [u8] {
        match self {
            Self::Sha256 => &[
                0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
                0x01, 0x05, 0x00, 0x04, 0x20,
            ],
            Self::Sha384 => &[
                0x30, 0x41, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
                0x02, 0x05, 0x00, 0x04, 0x30,
            ],
            Self::Sha512 => &[
                0x30, 0x51, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
                0x03, 0x05, 0x00, 0x04, 0x40,
            ],
        }
    }

    /// Whether `em` is exactly EMSA-PKCS1-v1_5(`message`): 00 01 FF…FF 00 DigestInfo digest.
    /// Comparing against the one valid encoding, never parsing it, rules out the padding and
    /// ASN.1 leniencies behind Bleichenbacher-style forgeries.
    fn encodes(self, em: &[u8], message: &[u8]) -> bool {
        use sha2::Digest as _;
        let mut buf = [0u8; 64];
        let digest: &[u8] = match self {
            Self::Sha256 => {
                buf[..32].copy_from_slice(&sha2::Sha256::digest(message));
                &buf[..32]
            }
            Self::Sha384 => {
                buf[..48].copy_from_slice(&sha2::Sha384::digest(message));
                &buf[..48]
            }
            Self::Sha512 => {
                buf.copy_from_slice(&sha2::Sha512::digest(message));
                &buf
            }
        };
        let prefix = self.digest_info_prefix();
        let t_len = prefix.len() + digest.len();
        // At least eight bytes of FF padding (RFC 8017 §9.2 step 3).
        let Some(ps_len) = em.len().checked_sub(t_len + 3).filter(|l| *l >= 8) else {
            return false;
        };
        let (head, rest) = em.split_at(2);
        let (ps, rest) = rest.split_at(ps_len);
        let (sep, t) = rest.split_at(1);
        let (p, d) = t.split_at(prefix.len());
        head == [0x00, 0x01]
            && ps.iter().all(|b| *b == 0xff)
            && sep == [0]
            && p == prefix
            && d == digest
    }
}

impl KeyVerifier {
    fn rsa_pkcs1(hash: Pkcs1Hash, jwk: &Jwk) -> Result<Self, String> {
        let (n, e) = rsa_components(jwk)?;
        let bn = |b: &[u8]| openssl::bn::BigNum::from_slice(b).map_err(|e| e.to_string());
        let key = openssl::rsa::Rsa::from_public_components(bn(&n)?, bn(&e)?)
            .map_err(|e| e.to_string())?;
        Ok(Self::RsaPkcs1 { key, hash })
    }

    fn rsa_pss(params: &'static ring::signature::RsaParameters, jwk: &Jwk) -> Result<Self, String> {
        let (n, e) = rsa_components(jwk)?;
        Ok(Self::RsaPss { params, n, e })
    }

    fn ec(
        alg: &'static ring::signature::EcdsaVerificationAlgorithm,
        len: usize,
        jwk: &Jwk,
    ) -> Result<Self, String> {
        let (x, y) = (jwk_bytes(jwk, "x")?, jwk_bytes(jwk, "y")?);
        if x.len() != len || y.len() != len {
            return Err(format!("EC coordinates are not {len} bytes each"));
        }
        // ring takes the uncompressed SEC1 point and checks it is on the curve when verifying.
        let mut point = Vec::with_capacity(1 + 2 * len);
        point.push(0x04);
        point.extend_from_slice(&x);
        point.extend_from_slice(&y);
        Ok(Self::Ring(ring::signature::UnparsedPublicKey::new(
            alg, point,
        )))
    }

    /// Checks `signature` over `message`; the error says why in words for the server log.
    pub(crate) fn verify(&self, message: &[u8], signature: &[u8]) -> Result<(), String> {
        const MISMATCH: &str = "the signature does not match";
        match self {
            Self::RsaPkcs1 { key, hash } => {
                // The largest modulus accepted at load is 8192 bits.
                let mut em = [0u8; 1024];
                let size = key.size() as usize;
                if signature.len() != size || size > em.len() {
                    return Err(format!(
                        "the signature is {} bytes, the key's modulus {size}",
                        signature.len()
                    ));
                }
                // No padding: the bare RSAVP1 result (OpenSSL refuses a signature ≥ n), checked
                // against the expected encoding below.
                let em = &mut em[..size];
                let len = key
                    .public_decrypt(signature, em, openssl::rsa::Padding::NONE)
                    .map_err(|_| MISMATCH.to_owned())?;
                if len == size && hash.encodes(em, message) {
                    Ok(())
                } else {
                    Err(MISMATCH.to_owned())
                }
            }
            Self::RsaPss { params, n, e } => ring::signature::RsaPublicKeyComponents { n, e }
                .verify(params, message, signature)
                .map_err(|_| MISMATCH.to_owned()),
            Self::Ring(key) => key
                .verify(message, signature)
                .map_err(|_| MISMATCH.to_owned()),
            Self::Jose(v) => v.verify(message, signature).map_err(|e| e.to_string()),
        }
    }
}

/// An RSA JWK's modulus and exponent, minimal big-endian, within the bounds every RSA verifier
/// here applies (and josekit applied at load): refusing the key once at load beats failing every
/// token signed with it.
fn rsa_components(jwk: &Jwk) -> Result<(Vec<u8>, Vec<u8>), String> {
    let n = strip_leading_zeros(jwk_bytes(jwk, "n")?);
    let e = strip_leading_zeros(jwk_bytes(jwk, "e")?);
    let bits = n.len() * 8 - n.first().map_or(8, |b| b.leading_zeros() as usize);
    if !(2048..=8192).contains(&bits) {
        return Err(format!("RSA key is {bits} bits; 2048 to 8192 are accepted"));
    }
    let exponent = (e.len() <= 4).then(|| e.iter().fold(0u64, |v, b| v << 8 | u64::from(*b)));
    if !exponent.is_some_and(|x| x >= 3 && x % 2 == 1) {
        return Err("RSA public exponent is not an odd number from 3 to 2^32".to_owned());
    }
    Ok((n, e))
}

/// A base64url member of a JWK, decoded.
fn jwk_bytes(jwk: &Jwk, name: &str) -> Result<Vec<u8>, String> {
    let value = jwk
        .parameter(name)
        .and_then(|v| v.as_str())
        .ok_or_else(|| format!("JWK has no string member {name:?}"))?;
    URL_SAFE_NO_PAD
        .decode(value)
        .map_err(|e| format!("JWK member {name:?} is not base64url: {e}"))
}

/// Some IdPs pad `n` with a zero byte (as DER would); ring wants the minimal encoding.
fn strip_leading_zeros(mut bytes: Vec<u8>) -> Vec<u8> {
    let zeros = bytes.iter().take_while(|b| **b == 0).count();
    bytes.drain(..zeros);
    bytes
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Algorithm {
    type Err = String;

    /// Exact, case-sensitive match: `alg` values are case-sensitive (RFC 7515 §4.1.1), so
    /// `"none"`, `"None"` and `"rs256"` are all unknown.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "RS256" => Self::Rs256,
            "RS384" => Self::Rs384,
            "RS512" => Self::Rs512,
            "PS256" => Self::Ps256,
            "PS384" => Self::Ps384,
            "PS512" => Self::Ps512,
            "ES256" => Self::Es256,
            "ES384" => Self::Es384,
            "ES512" => Self::Es512,
            "EdDSA" => Self::EdDsa,
            "HS256" => Self::Hs256,
            "HS384" => Self::Hs384,
            "HS512" => Self::Hs512,
            other => return Err(format!("unknown algorithm {}", crate::error::clip(other))),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signed(alg: Algorithm, key: &Jwk) -> (Vec<u8>, Vec<u8>) {
        let message = b"header.payload".to_vec();
        let signer: Box<dyn jws::JwsSigner> = match alg {
            Algorithm::Rs256 => Box::new(jws::RS256.signer_from_jwk(key).unwrap()),
            Algorithm::Rs384 => Box::new(jws::RS384.signer_from_jwk(key).unwrap()),
            Algorithm::Rs512 => Box::new(jws::RS512.signer_from_jwk(key).unwrap()),
            Algorithm::Ps256 => Box::new(jws::PS256.signer_from_jwk(key).unwrap()),
            Algorithm::Es256 => Box::new(jws::ES256.signer_from_jwk(key).unwrap()),
            Algorithm::EdDsa => Box::new(jws::EdDSA.signer_from_jwk(key).unwrap()),
            other => unreachable!("not used here: {other}"),
        };
        let signature = signer.sign(&message).unwrap();
        (message, signature)
    }

    #[test]
    fn native_verifiers_accept_good_and_refuse_altered_signatures() {
        let rsa = Jwk::generate_rsa_key(2048).unwrap();
        let ec = Jwk::generate_ec_key(josekit::jwk::alg::ec::EcCurve::P256).unwrap();
        let ed = Jwk::generate_ed_key(josekit::jwk::alg::ed::EdCurve::Ed25519).unwrap();
        for (alg, key) in [
            (Algorithm::Rs256, &rsa),
            (Algorithm::Rs384, &rsa),
            (Algorithm::Rs512, &rsa),
            (Algorithm::Ps256, &rsa),
            (Algorithm::Es256, &ec),
            (Algorithm::EdDsa, &ed),
        ] {
            let v = alg
                .verifier_from_jwk(&key.to_public_key().unwrap())
                .unwrap();
            assert!(
                !matches!(v, KeyVerifier::Jose(_)),
                "{alg} goes through ring"
            );
            let (message, mut signature) = signed(alg, key);
            v.verify(&message, &signature)
                .unwrap_or_else(|e| panic!("{alg}: {e}"));
            assert!(v.verify(b"header.payloaD", &signature).is_err(), "{alg}");
            signature[5] ^= 1;
            assert!(v.verify(&message, &signature).is_err(), "{alg}");
        }
    }

    #[test]
    fn pkcs1_refuses_other_hashes_pss_and_wrong_lengths() {
        let rsa = Jwk::generate_rsa_key(2048).unwrap();
        let public = rsa.to_public_key().unwrap();
        let rs256 = Algorithm::Rs256.verifier_from_jwk(&public).unwrap();
        // Same key and message, other encodings: RS384's DigestInfo, PSS padding.
        for other in [Algorithm::Rs384, Algorithm::Ps256] {
            let (message, signature) = signed(other, &rsa);
            assert!(rs256.verify(&message, &signature).is_err(), "{other}");
        }
        let (message, signature) = signed(Algorithm::Rs256, &rsa);
        let short = rs256.verify(&message, &signature[1..]).unwrap_err();
        assert!(short.contains("255 bytes"), "{short}");
        let mut long = signature.clone();
        long.push(0);
        assert!(rs256.verify(&message, &long).is_err());
        // A value ≥ n is refused by the RSA operation itself.
        assert!(rs256.verify(&message, &[0xff; 256]).is_err());
    }

    #[test]
    fn pkcs1_encoding_check_is_exact() {
        let message = b"m";
        let mut em = vec![0x00, 0x01];
        em.extend([0xff; 256 - 3 - 19 - 32]);
        em.push(0x00);
        em.extend(Pkcs1Hash::Sha256.digest_info_prefix());
        {
            use sha2::Digest as _;
            em.extend(sha2::Sha256::digest(message));
        }
        assert_eq!(em.len(), 256);
        assert!(Pkcs1Hash::Sha256.encodes(&em, message));
        assert!(!Pkcs1Hash::Sha256.encodes(&em, b"n"));
        assert!(!Pkcs1Hash::Sha384.encodes(&em, message));
        for i in [0, 1, 2, 203, 204, 205, 215, 255] {
            let mut bad = em.clone();
            bad[i] ^= 0x01;
            assert!(
                !Pkcs1Hash::Sha256.encodes(&bad, message),
                "byte {i} altered"
            );
        }
        // Too short for eight bytes of padding.
        assert!(!Pkcs1Hash::Sha256.encodes(&em[200..], message));
    }

    #[test]
    fn rsa_modulus_with_a_leading_zero_byte_still_verifies() {
        let rsa = Jwk::generate_rsa_key(2048).unwrap();
        let mut public = rsa.to_public_key().unwrap();
        let mut n = URL_SAFE_NO_PAD
            .decode(public.parameter("n").unwrap().as_str().unwrap())
            .unwrap();
        n.insert(0, 0);
        public
            .set_parameter("n", Some(URL_SAFE_NO_PAD.encode(&n).into()))
            .unwrap();
        for alg in [Algorithm::Rs256, Algorithm::Ps256] {
            let v = alg.verifier_from_jwk(&public).unwrap();
            let (message, signature) = signed(alg, &rsa);
            v.verify(&message, &signature)
                .unwrap_or_else(|e| panic!("{alg}: {e}"));
        }
    }

    #[test]
    fn weak_or_malformed_rsa_keys_are_refused_at_load() {
        let rsa = Jwk::generate_rsa_key(2048)
            .unwrap()
            .to_public_key()
            .unwrap();
        let with = |name: &str, bytes: &[u8]| {
            let mut k = rsa.clone();
            k.set_parameter(name, Some(URL_SAFE_NO_PAD.encode(bytes).into()))
                .unwrap();
            let pkcs1 = Algorithm::Rs256.verifier_from_jwk(&k).err();
            let pss = Algorithm::Ps256.verifier_from_jwk(&k).err();
            assert_eq!(pkcs1, pss, "{name}: both RSA paths apply the same bounds");
            pkcs1
        };
        let short = with("n", &[0xC3; 128]).expect("1024-bit modulus");
        assert!(short.contains("1024 bits"), "{short}");
        assert!(with("e", &[1]).is_some(), "exponent 1");
        assert!(with("e", &[1, 0, 0]).is_some(), "even exponent");
        assert!(
            with("e", &[1, 0, 0, 0, 1]).is_some(),
            "exponent over 32 bits"
        );
        assert!(with("e", &[1, 0, 1]).is_none(), "65537 is fine");
        let mut no_n = rsa.clone();
        no_n.set_parameter("n", None).unwrap();
        assert!(Algorithm::Rs256.verifier_from_jwk(&no_n).is_err());
    }
}
