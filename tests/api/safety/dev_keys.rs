//! The shipped development keys never serve a listener other machines
//! reach, unless a development flag says so, whatever the config calls them.

use std::process::Command;

use crate::helpers::ConfigDir;

fn check_config(config: &ConfigDir, env: &[(&str, &str)]) -> std::process::Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_cartseal"));
    command
        .arg("--config")
        .arg(config.config_path())
        .arg("check-config")
        .env_remove("CARTSEAL__SERVER__HOST")
        .env_remove("CARTSEAL__SERVER__ALLOW_DEV_KEYS");
    for (key, value) in env {
        command.env(key, value);
    }
    command.output().expect("the binary runs")
}

#[test]
fn development_keys_are_refused_on_a_public_address_even_renamed() {
    let config = ConfigDir::new();
    config.replace("id = \"dev-local-1\"", "id = \"prod-local\"");
    config.replace("id = \"dev-signing-1\"", "id = \"prod-signing\"");

    let loopback = check_config(&config, &[]);
    assert!(
        loopback.status.success(),
        "{}",
        String::from_utf8_lossy(&loopback.stderr)
    );

    let public = check_config(&config, &[("CARTSEAL__SERVER__HOST", "0.0.0.0")]);
    let stderr = String::from_utf8_lossy(&public.stderr);
    assert!(
        !public.status.success(),
        "served publicly with dev keys: {stderr}"
    );
    assert!(
        stderr.contains("prod-local") && stderr.contains("development key"),
        "{stderr}"
    );

    let flagged = check_config(
        &config,
        &[
            ("CARTSEAL__SERVER__HOST", "0.0.0.0"),
            ("CARTSEAL__SERVER__ALLOW_DEV_KEYS", "true"),
        ],
    );
    assert!(
        flagged.status.success(),
        "{}",
        String::from_utf8_lossy(&flagged.stderr)
    );
}
