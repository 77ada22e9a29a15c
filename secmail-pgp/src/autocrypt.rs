//! Autocrypt Level 1: the `Autocrypt:` header (emit and parse) and `Autocrypt-Gossip` inside
//! encrypted mail.
//!
//! ```text
//! autocrypt-header = "Autocrypt:" attribute *(";" attribute)
//! attribute        = "addr=" addr-spec / "prefer-encrypt=mutual" / "keydata=" base64
//!                  / "_" name "=" value           ; non-critical, ignored
//! ```
//! (Autocrypt Level 1 §2.1). Any other attribute makes the header invalid. `keydata` is a
//! minimal certificate: the primary key, the User ID for `addr`, and the encryption subkey,
//! with their self-signatures.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use secmail_core::mime::Message;

use sequoia_openpgp as openpgp;

use openpgp::Cert;
use openpgp::serialize::SerializeInto;

use crate::error::{Error, Result};
use crate::keys::{emails, read_cert};
use crate::policy::encryption_keys;

/// Whether the sender asks for encryption when both sides agree (`prefer-encrypt=mutual`).
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PreferEncrypt {
    /// No preference stated.
    #[default]
    NoPreference,
    /// `prefer-encrypt=mutual`.
    Mutual,
}

/// A parsed `Autocrypt:` or `Autocrypt-Gossip:` header.
#[derive(Debug, Clone)]
pub struct AutocryptHeader {
    /// The address the key is for (lower case).
    pub addr: String,
    /// The sender's preference.
    pub prefer_encrypt: PreferEncrypt,
    /// The certificate from `keydata`.
    pub cert: Cert,
}

pub(crate) fn norm(addr: &str) -> String {
    addr.trim()
        .trim_start_matches('<')
        .trim_end_matches('>')
        .to_lowercase()
}

/// The minimal certificate Autocrypt sends for `addr`: primary key, the User ID(s) for `addr`,
/// the valid encryption subkeys.
pub fn minimal_cert(cert: &Cert, addr: &str) -> Result<Cert> {
    let addr = norm(addr);
    let enc: Vec<_> = encryption_keys(cert)?
        .iter()
        .map(|k| k.key().fingerprint())
        .collect();
    let c = cert
        .clone()
        .strip_secret_key_material()
        .retain_userids(|ua| {
            ua.userid()
                .email_normalized()
                .ok()
                .flatten()
                .is_some_and(|e| e == addr)
        })
        .retain_subkeys(|ka| enc.contains(&ka.key().fingerprint()));
    if c.userids().next().is_none() {
        return Err(Error::unusable(
            cert.fingerprint(),
            format!("no User ID for {addr}"),
        ));
    }
    Ok(c)
}

/// The value of an `Autocrypt:` header for `cert` and `addr` (unfolded; see
/// [`add_autocrypt_header`] to put it in a message).
pub fn autocrypt_value(cert: &Cert, addr: &str, prefer: PreferEncrypt) -> Result<String> {
    let c = minimal_cert(cert, addr)?;
    let bytes = c.to_vec().map_err(|e| Error::Misuse(e.to_string()))?;
    let mut v = format!("addr={}; ", norm(addr));
    if prefer == PreferEncrypt::Mutual {
        v.push_str("prefer-encrypt=mutual; ");
    }
    v.push_str("keydata=");
    v.push_str(&STANDARD.encode(bytes));
    Ok(v)
}

/// A header field `name: value` with `keydata` folded into lines of at most 78 characters.
fn folded(name: &str, value: &str) -> Vec<u8> {
    let (head, key) = value.split_once("keydata=").unwrap_or((value, ""));
    let mut out = format!("{name}: {head}keydata=").into_bytes();
    for chunk in key.as_bytes().chunks(72) {
        out.extend_from_slice(b"\r\n ");
        out.extend_from_slice(chunk);
    }
    out.extend_from_slice(b"\r\n");
    out
}

/// Adds an `Autocrypt:` header for the message's `From` address with `cert` to the top of
/// `message`.
pub fn add_autocrypt_header(message: &[u8], cert: &Cert, prefer: PreferEncrypt) -> Result<Vec<u8>> {
    let msg = Message::parse(message.to_vec())?;
    let from = msg
        .from_address()
        .ok_or_else(|| Error::Misuse("the message has no single From address".into()))?;
    let mut out = folded("Autocrypt", &autocrypt_value(cert, &from, prefer)?);
    out.extend_from_slice(message);
    Ok(out)
}

/// Adds an `Autocrypt-Gossip:` header for each certificate (for its first address) to the top
/// of `message`. Use it on the message given to [`encrypt_mail`](crate::encrypt_mail): the
/// headers then travel inside the encryption only.
pub fn add_gossip_headers(message: &[u8], certs: &[&Cert]) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    for c in certs {
        if let Some(addr) = emails(c).first() {
            out.extend(folded(
                "Autocrypt-Gossip",
                &autocrypt_value(c, addr, PreferEncrypt::NoPreference)?,
            ));
        }
    }
    out.extend_from_slice(message);
    Ok(out)
}

/// Parses the value of an `Autocrypt:` or `Autocrypt-Gossip:` header.
pub fn parse_autocrypt(value: &str) -> Result<AutocryptHeader> {
    let bad = |why: &str| Error::malformed("Autocrypt header", why.to_owned());
    let mut addr = None;
    let mut prefer = PreferEncrypt::NoPreference;
    let mut keydata = None;
    for attr in value.split(';') {
        let attr = attr.trim();
        if attr.is_empty() {
            continue;
        }
        let (k, v) = attr
            .split_once('=')
            .ok_or_else(|| bad("an attribute without '='"))?;
        match k.trim() {
            "addr" => addr = Some(norm(v)),
            "prefer-encrypt" => {
                if v.trim() == "mutual" {
                    prefer = PreferEncrypt::Mutual;
                }
            }
            "keydata" => keydata = Some(v),
            k if k.starts_with('_') => {}
            _ => return Err(bad("an unknown critical attribute")),
        }
    }
    let addr = addr.ok_or_else(|| bad("no addr"))?;
    let b64: String = keydata
        .ok_or_else(|| bad("no keydata"))?
        .chars()
        .filter(|c| !c.is_ascii_whitespace())
        .collect();
    let bytes = STANDARD
        .decode(b64)
        .map_err(|e| Error::malformed("Autocrypt keydata", e))?;
    let cert = read_cert(&bytes)?;
    if cert.is_tsk() {
        return Err(bad("keydata holds secret key material"));
    }
    if !emails(&cert).contains(&addr) {
        return Err(bad("keydata has no User ID for addr"));
    }
    Ok(AutocryptHeader {
        addr,
        prefer_encrypt: prefer,
        cert,
    })
}

/// The `Autocrypt:` header of a received message, when there is exactly one and its `addr`
/// is the `From` address (Autocrypt Level 1 §2.3: otherwise it is ignored).
pub fn read_autocrypt(message: &[u8]) -> Result<Option<AutocryptHeader>> {
    let msg = Message::parse(message.to_vec())?;
    Ok(sender_header(&msg))
}

/// The one valid `Autocrypt:` header of `msg` whose `addr` is the `From` address.
pub(crate) fn sender_header(msg: &Message) -> Option<AutocryptHeader> {
    let from = norm(&msg.from_address()?);
    let headers: Vec<_> = msg
        .root()
        .headers()
        .iter()
        .filter(|h| h.name.eq_ignore_ascii_case("autocrypt"))
        .filter_map(|h| parse_autocrypt(&h.value).ok())
        .filter(|h| h.addr == from)
        .collect();
    match <[AutocryptHeader; 1]>::try_from(headers) {
        Ok([h]) => Some(h),
        Err(_) => None,
    }
}

/// The `Autocrypt-Gossip:` headers of a decrypted message (the output of
/// [`decrypt_mail`](crate::decrypt_mail); never read gossip from outside the encryption).
pub fn read_gossip(decrypted: &[u8]) -> Result<Vec<AutocryptHeader>> {
    let msg = Message::parse(decrypted.to_vec())?;
    Ok(gossip_headers(&msg))
}

/// The valid `Autocrypt-Gossip:` headers of `msg`.
pub(crate) fn gossip_headers(msg: &Message) -> Vec<AutocryptHeader> {
    msg.root()
        .headers()
        .iter()
        .filter(|h| h.name.eq_ignore_ascii_case("autocrypt-gossip"))
        .filter_map(|h| parse_autocrypt(&h.value).ok())
        .collect()
}
