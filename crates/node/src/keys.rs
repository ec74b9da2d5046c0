//! The node's Ed25519 key, kept in its data dir so its peer id survives restarts.

use std::path::{Path, PathBuf};

use base64::Engine as _;
use libp2p::identity::Keypair;

/// Loading or creating the key failed.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("cannot access key file {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("key file {path} is not a base64 32-byte Ed25519 seed: {reason}")]
    Invalid { path: PathBuf, reason: String },
}

/// The key in `<data_dir>/node.key` (base64 of the 32-byte seed, the format Fluence tools use),
/// created with owner-only permissions when missing.
///
/// # Errors
/// [`KeyError`] when the file can't be read or written, or holds something else.
pub fn load_or_create(data_dir: &Path) -> Result<(Keypair, bool), KeyError> {
    let path = data_dir.join("node.key");
    let io = |source| KeyError::Io {
        path: path.clone(),
        source,
    };
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            let invalid = |reason: String| KeyError::Invalid {
                path: path.clone(),
                reason,
            };
            let mut seed = base64::engine::general_purpose::STANDARD
                .decode(text.trim())
                .map_err(|e| invalid(e.to_string()))?;
            if seed.len() != 32 {
                return Err(invalid(format!("{} bytes", seed.len())));
            }
            let key = Keypair::ed25519_from_bytes(&mut seed).map_err(|e| invalid(e.to_string()))?;
            Ok((key, false))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            std::fs::create_dir_all(data_dir).map_err(io)?;
            let key = Keypair::generate_ed25519();
            let ed = key
                .clone()
                .try_into_ed25519()
                .map_err(|_| KeyError::Invalid {
                    path: path.clone(),
                    reason: "generated key is not Ed25519".into(),
                })?;
            let seed =
                base64::engine::general_purpose::STANDARD.encode(&ed.secret().as_ref()[..32]);
            write_private(&path, seed.as_bytes()).map_err(io)?;
            Ok((key, true))
        }
        Err(e) => Err(io(e)),
    }
}

#[cfg(unix)]
pub(crate) fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(bytes)
}

#[cfg(not(unix))]
pub(crate) fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    std::fs::write(path, bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_survives_a_restart_and_a_bad_file_is_an_error() {
        let dir = std::env::temp_dir().join(format!("lineage-key-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let (a, created) = load_or_create(&dir).expect("creates");
        assert!(created);
        let (b, created) = load_or_create(&dir).expect("loads");
        assert!(!created);
        assert_eq!(a.public().to_peer_id(), b.public().to_peer_id());
        std::fs::write(dir.join("node.key"), "not base64!").expect("write");
        assert!(matches!(
            load_or_create(&dir),
            Err(KeyError::Invalid { .. })
        ));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
