//! Backup parts sealed with age (<https://age-encryption.org>) to X25519 recipients: the
//! store then holds nothing readable without an identity. A backup taken with
//! `backup.age_recipients` set names its parts `….age`; the manifest stays plain so that
//! listing, retention and checksum checks need no key.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use age::secrecy::ExposeSecret;

use super::archive::BackupError;

/// The keys a backup operation has: recipients to seal to, identities to open with.
#[derive(Default)]
pub struct Keys {
    recipients: Vec<age::x25519::Recipient>,
    identities: Vec<age::x25519::Identity>,
    /// Where the identities came from, for error messages.
    identity_file: Option<PathBuf>,
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keys")
            .field("recipients", &self.recipients.len())
            .field("identities", &self.identities.len())
            .field("identity_file", &self.identity_file)
            .finish()
    }
}

/// Parses one recipient (`age1…`), for the configuration.
pub fn parse_recipient(raw: &str) -> Result<age::x25519::Recipient, String> {
    raw.trim()
        .parse()
        .map_err(|_| format!("{raw:?} is not an age X25519 recipient (age1…)"))
}

impl Keys {
    /// Keys from validated recipients and an optional identity file.
    pub fn new(recipients: &[String], identity_file: Option<&Path>) -> Result<Keys, BackupError> {
        let recipients = recipients
            .iter()
            .map(|r| parse_recipient(r).map_err(BackupError::Other))
            .collect::<Result<_, _>>()?;
        let identities = match identity_file {
            Some(path) => read_identities(path)?,
            None => Vec::new(),
        };
        Ok(Keys {
            recipients,
            identities,
            identity_file: identity_file.map(Path::to_owned),
        })
    }

    /// Whether new backups are sealed.
    pub fn seals(&self) -> bool {
        !self.recipients.is_empty()
    }

    /// Whether sealed backups can be opened.
    pub fn opens(&self) -> bool {
        !self.identities.is_empty()
    }

    /// `bytes` sealed to every recipient.
    pub fn seal(&self, bytes: &[u8]) -> Result<Vec<u8>, BackupError> {
        let encryptor = age::Encryptor::with_recipients(
            self.recipients.iter().map(|r| r as &dyn age::Recipient),
        )
        .map_err(|e| BackupError::Other(format!("sealing a part: {e}")))?;
        let mut sealed = Vec::with_capacity(bytes.len() + 256);
        let mut writer = encryptor.wrap_output(&mut sealed)?;
        writer.write_all(bytes)?;
        writer.finish()?;
        Ok(sealed)
    }

    /// Opens the sealed part `name`.
    pub fn open(&self, name: &str, sealed: &[u8]) -> Result<Vec<u8>, BackupError> {
        if self.identities.is_empty() {
            return Err(BackupError::Other(format!(
                "{name} is encrypted with age: give the identity that opens it with --identity FILE or backup.age_identity"
            )));
        }
        let corrupt = |what: String| BackupError::Corrupt {
            part: name.to_owned(),
            what,
        };
        let decryptor = age::Decryptor::new_buffered(sealed)
            .map_err(|e| corrupt(format!("not an age file: {e}")))?;
        let mut reader = decryptor
            .decrypt(self.identities.iter().map(|i| i as &dyn age::Identity))
            .map_err(|e| match e {
                age::DecryptError::NoMatchingKeys => BackupError::Other(format!(
                    "{name}: no identity in {} opens it (it was sealed to other recipients)",
                    self.identity_file.as_deref().map_or_else(
                        || "the identity file".to_owned(),
                        |p| p.display().to_string()
                    )
                )),
                e => corrupt(format!("does not decrypt: {e}")),
            })?;
        let mut plain = Vec::with_capacity(sealed.len());
        reader
            .read_to_end(&mut plain)
            .map_err(|e| corrupt(format!("does not decrypt: {e}")))?;
        Ok(plain)
    }
}

/// Reads an age identity file: `AGE-SECRET-KEY-1…` lines, `#` comments and blank lines.
fn read_identities(path: &Path) -> Result<Vec<age::x25519::Identity>, BackupError> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        BackupError::Other(format!("reading the age identity {}: {e}", path.display()))
    })?;
    let mut identities = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let identity = line.parse().map_err(|_| {
            BackupError::Other(format!(
                "{}:{}: not an age X25519 identity (AGE-SECRET-KEY-1…)",
                path.display(),
                n + 1
            ))
        })?;
        identities.push(identity);
    }
    if identities.is_empty() {
        return Err(BackupError::Other(format!(
            "{} holds no age identity",
            path.display()
        )));
    }
    Ok(identities)
}

/// A new identity as an identity file's text, and its recipient.
pub fn generate() -> (String, String) {
    let identity = age::x25519::Identity::generate();
    let recipient = identity.to_public().to_string();
    let file = format!(
        "# created: {}\n# public key: {recipient}\n{}\n",
        chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        identity.to_string().expose_secret()
    );
    (file, recipient)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> (Keys, tempfile::NamedTempFile) {
        let (file, recipient) = generate();
        let mut identity = tempfile::NamedTempFile::new().expect("temp file");
        identity.write_all(file.as_bytes()).expect("write");
        let keys = Keys::new(&[recipient], Some(identity.path())).expect("keys");
        (keys, identity)
    }

    #[test]
    fn sealed_bytes_open_with_the_identity_only() {
        let (keys, _file) = keys();
        let plain = b"one row\nanother row\n".repeat(1000);
        let sealed = keys.seal(&plain).expect("seal");
        assert!(sealed.starts_with(b"age-encryption.org/v1\n"));
        assert!(!sealed.windows(7).any(|w| w == b"one row"));
        assert_eq!(keys.open("db/x", &sealed).expect("open"), plain);

        let (other, _other_file) = super::tests::keys();
        let e = other.open("db/x", &sealed).expect_err("wrong key");
        assert!(e.to_string().contains("no identity in"), "{e}");
        let none = Keys::default();
        let e = none.open("db/x", &sealed).expect_err("no key");
        assert!(e.to_string().contains("--identity"), "{e}");
    }

    #[test]
    fn a_flipped_byte_does_not_open() {
        let (keys, _file) = keys();
        let mut sealed = keys.seal(b"payload").expect("seal");
        let last = sealed.len() - 1;
        sealed[last] ^= 1;
        let e = keys
            .open("content.tar.zst.age", &sealed)
            .expect_err("tampered");
        assert!(matches!(e, BackupError::Corrupt { .. }), "{e}");
    }

    #[test]
    fn identity_files_are_checked_line_by_line() {
        let mut file = tempfile::NamedTempFile::new().expect("temp file");
        writeln!(file, "# a comment\n\nAGE-SECRET-KEY-1NOTAKEY").expect("write");
        let e = Keys::new(&[], Some(file.path())).expect_err("bad line");
        assert!(
            e.to_string()
                .ends_with(":3: not an age X25519 identity (AGE-SECRET-KEY-1…)"),
            "{e}"
        );
        assert!(parse_recipient("age1nope").is_err());
    }
}
