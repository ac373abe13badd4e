//! Node keys: the secp256k1 key pair that identifies a node, with hex file storage, and the
//! conversions between public keys and 64-byte node ids.

use std::fmt;
use std::io::Write as _;
use std::path::Path;

use p2p_msg::NodeId;
use secp256k1::{PublicKey, SecretKey};

use crate::Error;

/// A fresh random secret key.
pub(crate) fn random_secret_key() -> SecretKey {
    loop {
        let mut bytes = [0u8; 32];
        rand::Rng::fill_bytes(&mut rand::rng(), &mut bytes);
        // Fails only for zero or values above the group order (probability about 2^-128).
        if let Ok(key) = SecretKey::from_secret_bytes(bytes) {
            return key;
        }
    }
}

/// The 64-byte node id (uncompressed public key without the `0x04` prefix) of a public key.
#[must_use]
pub fn node_id(public: &PublicKey) -> NodeId {
    let full = public.serialize_uncompressed();
    let mut id = [0u8; 64];
    id.copy_from_slice(&full[1..]);
    NodeId::from(id)
}

/// The public key of a 64-byte node id.
///
/// # Errors
///
/// [`Error::InvalidPublicKey`] if the bytes are not a point on secp256k1.
pub fn public_key(id: &NodeId) -> Result<PublicKey, Error> {
    public_key_from_raw(id_bytes(id))
}

pub(crate) fn public_key_from_raw(raw: &[u8; 64]) -> Result<PublicKey, Error> {
    let mut full = [4u8; 65];
    full[1..].copy_from_slice(raw);
    PublicKey::from_byte_array_uncompressed(full).map_err(|_| Error::InvalidPublicKey)
}

/// The raw 64 bytes of a node id.
pub(crate) fn id_bytes(id: &NodeId) -> &[u8; 64] {
    &id.0
}

/// A node's static secp256k1 key pair. Its public half is the node id.
///
/// `Debug` shows the node id only, never the secret.
#[derive(Clone)]
pub struct NodeKey {
    secret: SecretKey,
    public: PublicKey,
}

impl fmt::Debug for NodeKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NodeKey")
            .field("id", &hex::encode(id_bytes(&self.id())))
            .finish_non_exhaustive()
    }
}

impl NodeKey {
    /// Generates a random key.
    #[must_use]
    pub fn generate() -> Self {
        Self::from_secret(random_secret_key())
    }

    /// Wraps a secp256k1 secret key.
    #[must_use]
    pub fn from_secret(secret: SecretKey) -> Self {
        let public = PublicKey::from_secret_key(&secret);
        Self { secret, public }
    }

    /// A key from its 32 secret bytes.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidSecretKey`] for zero or a value not below the group order.
    pub fn from_bytes(bytes: [u8; 32]) -> Result<Self, Error> {
        SecretKey::from_secret_bytes(bytes)
            .map(Self::from_secret)
            .map_err(|_| Error::InvalidSecretKey)
    }

    /// A key from 64 hex digits (an optional `0x` prefix and surrounding whitespace are
    /// accepted).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidKey`] if the text is not 64 hex digits, [`Error::InvalidSecretKey`] if
    /// the value is not a valid key.
    pub fn from_hex(text: &str) -> Result<Self, Error> {
        let text = text.trim();
        let text = text.strip_prefix("0x").unwrap_or(text);
        if text.len() != 64 {
            return Err(Error::InvalidKey("expected 64 hex digits"));
        }
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(text, &mut bytes).map_err(|_| Error::InvalidKey("not hex"))?;
        Self::from_bytes(bytes)
    }

    /// The secret as 64 lowercase hex digits (no prefix).
    #[must_use]
    pub fn to_hex(&self) -> String {
        hex::encode(self.secret.to_secret_bytes())
    }

    /// Loads a key saved by [`NodeKey::save`] (64 hex digits).
    ///
    /// # Errors
    ///
    /// [`Error::KeyFile`] if the file cannot be read, [`Error::InvalidKey`] or
    /// [`Error::InvalidSecretKey`] if it does not hold a key.
    pub fn load(path: impl AsRef<Path>) -> Result<Self, Error> {
        let path = path.as_ref();
        let file_error = |source| Error::KeyFile {
            path: path.to_owned(),
            source,
        };
        let meta = std::fs::metadata(path).map_err(file_error)?;
        // A key file is 64 hex digits plus a newline; refuse to read anything large.
        if meta.len() > 1024 {
            return Err(Error::InvalidKey("file too large"));
        }
        let text = std::fs::read_to_string(path).map_err(file_error)?;
        Self::from_hex(&text)
    }

    /// Saves the key as 64 hex digits and a newline (file mode 0600 on Unix), replacing any
    /// existing file.
    ///
    /// # Errors
    ///
    /// [`Error::KeyFile`] if the file cannot be written.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<(), Error> {
        let path = path.as_ref();
        let file_error = |source| Error::KeyFile {
            path: path.to_owned(),
            source,
        };
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt as _;
            options.mode(0o600);
        }
        let mut file = options.open(path).map_err(file_error)?;
        writeln!(file, "{}", self.to_hex()).map_err(file_error)?;
        file.sync_all().map_err(file_error)
    }

    /// Loads the key at `path`, or generates one and saves it there if the file does not exist.
    ///
    /// # Errors
    ///
    /// As [`NodeKey::load`] and [`NodeKey::save`].
    pub fn load_or_generate(path: impl AsRef<Path>) -> Result<Self, Error> {
        let path = path.as_ref();
        match std::fs::metadata(path) {
            Ok(_) => Self::load(path),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let key = Self::generate();
                key.save(path)?;
                Ok(key)
            }
            Err(source) => Err(Error::KeyFile {
                path: path.to_owned(),
                source,
            }),
        }
    }

    /// The node id (the public key without its `0x04` prefix).
    #[must_use]
    pub fn id(&self) -> NodeId {
        node_id(&self.public)
    }

    /// The secret key.
    #[must_use]
    pub fn secret_key(&self) -> &SecretKey {
        &self.secret
    }

    /// The public key.
    #[must_use]
    pub fn public_key(&self) -> &PublicKey {
        &self.public
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trip_and_errors() {
        let key = NodeKey::generate();
        let again = NodeKey::from_hex(&format!("0x{}\n", key.to_hex())).unwrap();
        assert_eq!(key.id(), again.id());
        assert!(matches!(
            NodeKey::from_hex("abc"),
            Err(Error::InvalidKey(_))
        ));
        assert!(matches!(
            NodeKey::from_hex(&"zz".repeat(32)),
            Err(Error::InvalidKey(_))
        ));
        assert!(matches!(
            NodeKey::from_hex(&"00".repeat(32)),
            Err(Error::InvalidSecretKey)
        ));
        assert!(matches!(
            NodeKey::from_hex(&"ff".repeat(32)),
            Err(Error::InvalidSecretKey)
        ));
    }

    #[test]
    fn id_round_trips_through_public_key() {
        let key = NodeKey::from_bytes([1; 32]).unwrap();
        assert_eq!(
            hex::encode(id_bytes(&key.id())),
            "1b84c5567b126440995d3ed5aaba0565d71e1834604819ff9c17f5e9d5dd078f\
             70beaf8f588b541507fed6a642c5ab42dfdf8120a7f639de5122d47a69a8e8d1"
        );
        assert_eq!(&public_key(&key.id()).unwrap(), key.public_key());
        assert!(public_key_from_raw(&[0; 64]).is_err());
    }

    #[test]
    fn save_and_load() {
        let dir = std::env::temp_dir().join(format!("p2p-rlpx-key-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("nodekey");
        let _ = std::fs::remove_file(&path);
        let key = NodeKey::load_or_generate(&path).unwrap();
        let loaded = NodeKey::load_or_generate(&path).unwrap();
        assert_eq!(key.id(), loaded.id());
        std::fs::write(&path, "not a key").unwrap();
        assert!(matches!(NodeKey::load(&path), Err(Error::InvalidKey(_))));
        assert!(matches!(
            NodeKey::load(dir.join("missing")),
            Err(Error::KeyFile { .. })
        ));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
