//! age encryption of what a backup stores: an X25519 identity from a
//! secret, a writer that encrypts to it, a reader that decrypts with it,
//! and the one rule for which key a stored backup needs.

use std::fs::File;
use std::io::{BufWriter, Read, Write as _};

use crate::error::{BackupError, at, fail};
use crate::manifest::Manifest;

/// What an encrypted file's name ends with.
pub const SUFFIX: &str = ".age";

/// An age identity (X25519) backups are encrypted to and decrypted with.
#[derive(Clone)]
pub struct EncryptionKey(age::x25519::Identity);

impl EncryptionKey {
    /// `AGE-SECRET-KEY-1...`, as `age-keygen` writes it (comment lines
    /// and surrounding space allowed).
    pub fn parse(text: &str) -> Option<Self> {
        let line = text.lines().map(str::trim).find(|l| !l.is_empty() && !l.starts_with('#'))?;
        line.parse().ok().map(Self)
    }

    /// The public key (`age1...`) backups are encrypted to.
    pub fn recipient(&self) -> String {
        self.0.to_public().to_string()
    }
}

impl std::fmt::Debug for EncryptionKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "EncryptionKey({})", self.recipient())
    }
}

/// Where a stored file is written: the file, through age when encrypted.
pub(crate) enum Sink {
    Plain(BufWriter<File>),
    Age(age::stream::StreamWriter<BufWriter<File>>),
}

impl std::io::Write for Sink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Self::Plain(w) => w.write(buf),
            Self::Age(w) => w.write(buf),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Self::Plain(w) => w.flush(),
            Self::Age(w) => w.flush(),
        }
    }
}

impl Sink {
    /// `file` as is, or encrypted to `key`.
    pub(crate) fn new(file: BufWriter<File>, key: Option<&EncryptionKey>) -> Result<Self, BackupError> {
        let Some(key) = key else { return Ok(Self::Plain(file)) };
        let recipient = key.0.to_public();
        let encryptor = age::Encryptor::with_recipients(std::iter::once(&recipient as &dyn age::Recipient))
            .map_err(|e| fail("encrypt", e.to_string()))?;
        Ok(Self::Age(encryptor.wrap_output(file).map_err(at("encrypt"))?))
    }

    /// Ends the age stream (its last chunk and tag) and flushes the file.
    pub(crate) fn finish(self) -> std::io::Result<File> {
        let mut buffered = match self {
            Self::Plain(w) => w,
            Self::Age(w) => w.finish()?,
        };
        buffered.flush()?;
        buffered.into_inner().map_err(|e| e.into_error())
    }
}

/// `input` as is, or decrypted with `key`.
pub(crate) fn reader<'a, R: Read + 'a>(
    input: R,
    key: Option<&EncryptionKey>,
) -> Result<Box<dyn Read + 'a>, BackupError> {
    let Some(key) = key else { return Ok(Box::new(input)) };
    let decryptor = age::Decryptor::new(input).map_err(|e| fail("decrypt", e.to_string()))?;
    Ok(Box::new(
        decryptor.decrypt(std::iter::once(&key.0 as &dyn age::Identity)).map_err(|e| fail("decrypt", e.to_string()))?,
    ))
}

/// The key a stored backup is read with: none for a plain one under a
/// policy without a key, the policy's for one encrypted to it. A backup
/// encrypted to another key, an encrypted one without the key, and a plain
/// one where the policy encrypts every backup (a destination's writer
/// planting what the policy would never have written) are refused.
pub(crate) fn key_for(
    manifest: &Manifest,
    policy: Option<&EncryptionKey>,
) -> Result<Option<EncryptionKey>, BackupError> {
    let problem = |p: String| BackupError::Verify { id: manifest.id.clone(), problems: vec![p] };
    match (&manifest.encrypted_to, policy) {
        (None, None) => Ok(None),
        (Some(to), Some(key)) if *to == key.recipient() => Ok(Some(key.clone())),
        (Some(to), Some(key)) => {
            Err(problem(format!("the backup is encrypted to {to}, not to the policy's key ({})", key.recipient())))
        }
        (Some(to), None) => Err(BackupError::Usage(format!(
            "backup `{}` is encrypted (to {to}): give the policy its `encryption_key`",
            manifest.id
        ))),
        (None, Some(_)) => {
            Err(problem("the backup is not encrypted, but the policy encrypts every backup: refused".to_owned()))
        }
    }
}
