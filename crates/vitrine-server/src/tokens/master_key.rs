//! The installation's master key, which seals the private signing keys stored in the database.
//! It comes from `VITRINE_MASTER_KEY` (32 bytes, base64) or from `master.key` in the data
//! directory, created on first start readable by its owner only. A copy of the database alone
//! therefore yields no signing key.

use std::fmt;
use std::io::Write;
use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use chacha20poly1305::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use rand::RngCore;

pub const KEY_FILE: &str = "master.key";
const NONCE_BYTES: usize = 12;

#[derive(Debug, thiserror::Error)]
pub enum MasterKeyError {
    #[error("VITRINE_MASTER_KEY must be 32 bytes in base64 (e.g. `openssl rand -base64 32`)")]
    Malformed,
    #[error("{path}: {source}")]
    File { path: String, source: std::io::Error },
    #[error("{0} does not hold a 32-byte base64 key")]
    MalformedFile(String),
    #[error("a signing key could not be unsealed: wrong master key, or the database was altered")]
    Unseal,
    #[error(
        "{0} is missing, but the database holds signing keys sealed with a master key: set VITRINE_MASTER_KEY to that key or restore the file (a new key would make the existing ones unreadable)"
    )]
    Missing(String),
}

#[derive(Clone)]
pub struct MasterKey {
    cipher: ChaCha20Poly1305,
    /// Keys for other purposes are derived from this one, never the sealing key itself.
    derivation: [u8; 32],
}

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MasterKey(…)")
    }
}

fn decode_key(text: &str) -> Option<[u8; 32]> {
    let text = text.trim();
    let bytes = STANDARD.decode(text).or_else(|_| URL_SAFE_NO_PAD.decode(text)).ok()?;
    bytes.try_into().ok()
}

impl MasterKey {
    fn from_bytes(bytes: [u8; 32]) -> Self {
        use hmac::Mac;
        let mut derivation = [0u8; 32];
        if let Ok(mut mac) = <hmac::Hmac<sha2::Sha256> as Mac>::new_from_slice(&bytes) {
            mac.update(b"vitrine derivation key v1");
            derivation.copy_from_slice(&mac.finalize().into_bytes());
        }
        Self { cipher: ChaCha20Poly1305::new(Key::from_slice(&bytes)), derivation }
    }

    /// The key from the environment if given, else from (or into) the data directory.
    /// The key as [`MasterKey::load`] finds it, but never a new one for a store that already
    /// holds sealed signing keys, and only one that unseals them.
    pub async fn open(
        from_env: Option<&str>,
        data_dir: &Path,
        store: &dyn vitrine_store::Store,
    ) -> Result<Self, MasterKeyError> {
        let keys = store.list_signing_keys().await.unwrap_or_default();
        let path = data_dir.join(KEY_FILE);
        if from_env.is_none() && !keys.is_empty() && !path.exists() {
            return Err(MasterKeyError::Missing(path.display().to_string()));
        }
        let master = Self::load(from_env, data_dir)?;
        if let Some(key) = keys.iter().find(|k| k.retired_at.is_none()) {
            master.unseal(&key.kid, &key.sealed_private_key)?;
        }
        Ok(master)
    }

    pub fn load(from_env: Option<&str>, data_dir: &Path) -> Result<Self, MasterKeyError> {
        if let Some(text) = from_env {
            return decode_key(text).map(Self::from_bytes).ok_or(MasterKeyError::Malformed);
        }
        let path = data_dir.join(KEY_FILE);
        let file_error = |source| MasterKeyError::File { path: path.display().to_string(), source };
        match std::fs::read_to_string(&path) {
            Ok(text) => decode_key(&text)
                .map(Self::from_bytes)
                .ok_or_else(|| MasterKeyError::MalformedFile(path.display().to_string())),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                std::fs::create_dir_all(data_dir).map_err(file_error)?;
                let mut bytes = [0u8; 32];
                rand::rng().fill_bytes(&mut bytes);
                let mut options = std::fs::OpenOptions::new();
                options.write(true).create_new(true);
                #[cfg(unix)]
                std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
                let mut file = options.open(&path).map_err(file_error)?;
                writeln!(file, "{}", STANDARD.encode(bytes)).map_err(file_error)?;
                file.sync_all().map_err(file_error)?;
                tracing::info!(path = %path.display(), "created the master key file");
                Ok(Self::from_bytes(bytes))
            }
            Err(error) => Err(file_error(error)),
        }
    }

    /// Encrypts `secret`, bound to `label` (the key id), as nonce ‖ ciphertext ‖ tag.
    /// A 32-byte key for one purpose (`label`), derived from the master key: it changes when
    /// the master key does, and reveals nothing of it or of keys for other purposes.
    pub fn derive(&self, label: &str) -> [u8; 32] {
        use hmac::Mac;
        let mut key = [0u8; 32];
        if let Ok(mut mac) = <hmac::Hmac<sha2::Sha256> as Mac>::new_from_slice(&self.derivation) {
            mac.update(label.as_bytes());
            key.copy_from_slice(&mac.finalize().into_bytes());
        }
        key
    }

    pub fn seal(&self, label: &str, secret: &[u8]) -> Result<Vec<u8>, MasterKeyError> {
        let nonce = ChaCha20Poly1305::generate_nonce(&mut OsRng);
        let ciphertext = self
            .cipher
            .encrypt(&nonce, Payload { msg: secret, aad: label.as_bytes() })
            .map_err(|_| MasterKeyError::Unseal)?;
        let mut sealed = nonce.to_vec();
        sealed.extend_from_slice(&ciphertext);
        Ok(sealed)
    }

    pub fn unseal(&self, label: &str, sealed: &[u8]) -> Result<Vec<u8>, MasterKeyError> {
        if sealed.len() < NONCE_BYTES {
            return Err(MasterKeyError::Unseal);
        }
        let (nonce, ciphertext) = sealed.split_at(NONCE_BYTES);
        self.cipher
            .decrypt(Nonce::from_slice(nonce), Payload { msg: ciphertext, aad: label.as_bytes() })
            .map_err(|_| MasterKeyError::Unseal)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_file_is_created_once_readable_by_its_owner_only() {
        let dir = tempfile::tempdir().unwrap();
        let key = MasterKey::load(None, dir.path()).unwrap();
        let sealed = key.seal("kid-1", b"secret").unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join(KEY_FILE)).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let again = MasterKey::load(None, dir.path()).unwrap();
        assert_eq!(again.unseal("kid-1", &sealed).unwrap(), b"secret");
    }

    #[test]
    fn sealed_secrets_need_the_same_key_and_label() {
        let dir = tempfile::tempdir().unwrap();
        let key = MasterKey::load(Some(&STANDARD.encode([3u8; 32])), dir.path()).unwrap();
        let other = MasterKey::load(Some(&STANDARD.encode([4u8; 32])), dir.path()).unwrap();
        let sealed = key.seal("kid-1", b"secret").unwrap();
        assert!(!sealed.windows(6).any(|w| w == b"secret"));
        assert!(other.unseal("kid-1", &sealed).is_err());
        assert!(
            key.unseal("kid-2", &sealed).is_err(),
            "a sealed key cannot be moved to another id"
        );
        assert!(!dir.path().join(KEY_FILE).exists(), "no file when the environment gives the key");
        assert!(matches!(
            MasterKey::load(Some("short"), dir.path()),
            Err(MasterKeyError::Malformed)
        ));
    }
}
