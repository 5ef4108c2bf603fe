//! The precompiled-component cache: components are compiled once per content hash (sha256) and
//! kept on disk, so a restart deserializes instead of recompiling.
//!
//! Layout: `<dir>/<engine>/<sha256>.cwasm` plus `<sha256>.cwasm.sha256` holding the digest of the
//! artifact. `<engine>` is a digest of wasmtime's precompile-compatibility hash, so a wasmtime
//! upgrade or a different engine config lands in another directory and recompiles. Artifacts
//! are written atomically (temp file + rename) and their digest is checked before they are
//! deserialized; a corrupt or foreign artifact is recompiled, never loaded.

use std::hash::{Hash, Hasher};
use std::io::Write as _;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use wasmtime::Engine;
use wasmtime::component::Component;

/// A directory of precompiled components for one engine configuration.
pub(crate) struct DiskCache {
    dir: PathBuf,
}

/// Feeds `Hash` output into sha256, for a stable digest of the engine's compatibility hash.
struct ShaHasher(Sha256);

impl Hasher for ShaHasher {
    fn finish(&self) -> u64 {
        let d = self.0.clone().finalize();
        u64::from_le_bytes(d[..8].try_into().expect("8 bytes"))
    }
    fn write(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }
}

/// The hex sha256 of the engine's precompile compatibility hash (first 16 digits).
pub(crate) fn engine_key(engine: &Engine) -> String {
    let mut h = ShaHasher(Sha256::new());
    engine.precompile_compatibility_hash().hash(&mut h);
    hex::encode(&h.0.finalize()[..8])
}

impl DiskCache {
    /// Opens (creating) the cache for `engine` under `root`.
    pub(crate) fn open(root: &Path, engine: &Engine) -> std::io::Result<Self> {
        let dir = root.join(engine_key(engine));
        std::fs::create_dir_all(&dir)?;
        Ok(DiskCache { dir })
    }

    fn artifact(&self, hash: &str) -> PathBuf {
        self.dir.join(format!("{hash}.cwasm"))
    }

    fn digest_file(&self, hash: &str) -> PathBuf {
        self.dir.join(format!("{hash}.cwasm.sha256"))
    }

    /// Loads the precompiled component for `hash`, if a valid one is cached.
    pub(crate) fn load(&self, engine: &Engine, hash: &str) -> Option<Component> {
        let bytes = std::fs::read(self.artifact(hash)).ok()?;
        let want = std::fs::read_to_string(self.digest_file(hash)).ok()?;
        if hex::encode(Sha256::digest(&bytes)) != want.trim() {
            tracing::warn!(
                hash,
                "precompiled plugin artifact does not match its digest; recompiling"
            );
            return None;
        }
        // SAFETY: wasmtime requires that deserialized bytes come from `precompile_component` /
        // `serialize` of a compatible engine. These bytes were written by `store` below from
        // `Engine::precompile_component`, under a directory keyed by this engine's compatibility
        // hash, and their sha256 was just checked against the digest written with them. Bytes
        // from another engine are also rejected by wasmtime's own header check.
        #[allow(unsafe_code)]
        let component = unsafe { Component::deserialize(engine, &bytes) };
        match component {
            Ok(c) => Some(c),
            Err(e) => {
                tracing::warn!(hash, error = %e, "cannot load precompiled plugin; recompiling");
                None
            }
        }
    }

    /// Stores the precompiled bytes for `hash`. Failures are logged, not fatal: the plugin is
    /// already compiled in memory.
    pub(crate) fn store(&self, hash: &str, precompiled: &[u8]) {
        if let Err(e) = self.try_store(hash, precompiled) {
            tracing::warn!(hash, dir = %self.dir.display(), error = %e, "cannot write precompiled plugin to the cache");
        }
    }

    fn try_store(&self, hash: &str, precompiled: &[u8]) -> std::io::Result<()> {
        let digest = hex::encode(Sha256::digest(precompiled));
        write_atomic(&self.digest_file(hash), digest.as_bytes())?;
        write_atomic(&self.artifact(hash), precompiled)
    }
}

fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path)
}

/// Deserializes precompiled bytes this process produced itself a moment ago with
/// `Engine::precompile_component` on the same engine.
pub(crate) fn deserialize_own(engine: &Engine, precompiled: &[u8]) -> wasmtime::Result<Component> {
    // SAFETY: the bytes come straight from `engine.precompile_component` in this process.
    #[allow(unsafe_code)]
    unsafe {
        Component::deserialize(engine, precompiled)
    }
}
