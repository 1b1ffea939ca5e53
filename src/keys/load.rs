//! Loading a keyring from config.toml's `[[keys]]`, with every problem of
//! every key (docs/key-rotation.md, "Keyring problems").

use std::path::Path;

use super::{
    DEV_KIDS, GENERATIONS, Key, KeyConfig, KeyState, Keyring, KeyringError, LocalMaterial, Purpose,
    SigningMaterial, Warning, check_private, read_key_file, single_active,
};

impl Keyring {
    /// [`Self::load`], refusing with every problem of every key, in the
    /// order of the entries (never empty when it refuses).
    pub fn load_all(
        configs: &[KeyConfig],
        base: &Path,
        jwt_algorithm: jsonwebtoken::Algorithm,
        need_signing: bool,
    ) -> Result<(Self, Vec<Warning>), Vec<KeyringError>> {
        let mut problems = Vec::new();
        let mut warnings = Vec::new();
        let mut local = Vec::new();
        let mut signing = Vec::new();
        let mut dev_keys = Vec::new();
        for (i, config) in configs.iter().enumerate() {
            if configs[..i].iter().any(|c| c.id == config.id) {
                problems.push(KeyringError::DuplicateId(config.id.clone()));
                continue;
            }
            let path = base.join(&config.file);
            let text = match read_key_file(&config.id, &path) {
                Ok(text) => text,
                Err(e) => {
                    problems.push(e);
                    continue;
                }
            };
            let material_err = |reason| KeyringError::Material {
                id: config.id.clone(),
                purpose: config.purpose,
                reason,
            };
            let kid = match config.purpose {
                Purpose::Local => {
                    LocalMaterial::from_paserk(&text)
                        .map_err(material_err)
                        .map(|material| {
                            let kid = material.kid().to_owned();
                            local.push(config.key(material));
                            kid
                        })
                }
                Purpose::Signing => SigningMaterial::from_paserk(&text)
                    .map_err(material_err)
                    .and_then(|material| {
                        if material.algorithm() != jwt_algorithm {
                            return Err(KeyringError::WrongAlgorithm {
                                id: config.id.clone(),
                                expected: jwt_algorithm,
                                found: material.algorithm(),
                            });
                        }
                        let kid = material.kid().to_owned();
                        signing.push(config.key(material));
                        Ok(kid)
                    }),
            };
            let kid = match kid {
                Ok(kid) => kid,
                Err(e) => {
                    problems.push(e);
                    continue;
                }
            };
            if let Some(configured) = &config.kid
                && *configured != kid
            {
                problems.push(KeyringError::KidMismatch {
                    id: config.id.clone(),
                    configured: configured.clone(),
                    derived: kid.clone(),
                });
            }
            if DEV_KIDS.contains(&kid.as_str()) {
                if config.state != KeyState::Retired {
                    warnings.push(format!(
                        "key {:?} is a DEVELOPMENT key shipped in the repository: make your own with `cartseal keygen` before serving real users",
                        config.id
                    ));
                    dev_keys.push(config.id.clone());
                }
            } else if let Err(e) = check_private(&config.id, &path) {
                // The development keys are public anyway, and git does not
                // keep file modes; every other key must be private.
                problems.push(e);
            }
        }
        let kids = local
            .iter()
            .map(|k| (&k.id, k.material.kid()))
            .chain(signing.iter().map(|k| (&k.id, k.material.kid())))
            .collect::<Vec<_>>();
        for (i, (id, kid)) in kids.iter().enumerate() {
            if let Some((other, _)) = kids[..i].iter().find(|(_, k)| k == kid) {
                problems.push(KeyringError::DuplicateKid((*other).clone(), (*id).clone()));
            }
        }
        let active_local = single_active(Purpose::Local, &local).unwrap_or_else(|e| {
            problems.push(e);
            None
        });
        let active_signing = single_active(Purpose::Signing, &signing).unwrap_or_else(|e| {
            problems.push(e);
            None
        });
        // Said of the entries, not of the keys that loaded: an active key
        // whose file failed has its own problem already.
        let says_active = |purpose| {
            configs
                .iter()
                .any(|c| c.purpose == purpose && c.state == KeyState::Active)
        };
        if !says_active(Purpose::Local) {
            problems.push(KeyringError::NoActive(Purpose::Local));
        }
        if need_signing && !says_active(Purpose::Signing) {
            problems.push(KeyringError::NoActive(Purpose::Signing));
        }
        let active_local = match active_local {
            Some(active) if problems.is_empty() => active,
            _ => {
                if problems.is_empty() {
                    problems.push(KeyringError::NoActive(Purpose::Local));
                }
                return Err(problems);
            }
        };
        Ok((
            Self {
                local,
                signing,
                active_local,
                active_signing,
                dev_keys,
                generation: GENERATIONS.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            },
            warnings,
        ))
    }
}

impl KeyConfig {
    /// The key this entry describes, holding `material`.
    fn key<M>(&self, material: M) -> Key<M> {
        Key {
            id: self.id.clone(),
            state: self.state,
            material,
        }
    }
}
