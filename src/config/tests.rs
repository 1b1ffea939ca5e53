use super::*;

fn shipped() -> Settings {
    Settings::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("config.toml"))
        .expect("the shipped config loads")
}

#[test]
fn the_shipped_development_keys_serve_on_loopback_only() {
    let mut settings = shipped();
    for host in ["127.0.0.1", "::1", "localhost"] {
        settings.server.host = host.into();
        assert!(settings.load_keyring().is_ok(), "{host}");
    }
    for host in ["0.0.0.0", "::", "10.1.2.3"] {
        settings.server.host = host.into();
        let refused = settings.load_keyring().err().map(|e| e.to_string());
        assert!(
            refused
                .as_deref()
                .is_some_and(|e| e.contains("dev-local-1") && e.contains("allow_dev_keys")),
            "{host}: {refused:?}"
        );
    }
    settings.server.allow_dev_keys = true;
    assert!(
        settings.load_keyring().is_ok(),
        "an explicit development flag"
    );
}

/// Every bad field at once, one line each, with its line, the field as
/// config.toml writes it and the valid values.
#[test]
fn every_bad_field_is_one_line_with_its_place() {
    let dir = tempfile::tempdir().unwrap();
    let shipped =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("config.toml")).unwrap();
    let bad = shipped
        .replace("workers = 0", "workers = \"two\"\nbogus = 1")
        .replace("max_lines = 100", "max_lines = -1")
        .replace(
            "state = \"active\"\nkid = \"k4.pid",
            "state = \"decrypt_only\"\nkid = \"k4.pid",
        )
        .replace("port = 9464", "port = 70000");
    let path = dir.path().join("config.toml");
    std::fs::write(&path, &bad).unwrap();
    let line = |needle: &str| bad.lines().position(|l| l.starts_with(needle)).unwrap() + 1;
    let problems = Settings::load(&path).unwrap_err().0;
    let file = path.display();
    assert_eq!(
        problems,
        [
            format!(
                "{file}:{}: server.workers = \"two\": must be a whole number",
                line("workers")
            ),
            format!(
                "{file}:{}: server.bogus is not a setting; this table has \"host\", \"port\", \"workers\", \"shutdown_timeout_secs\", \"client_request_timeout_ms\", \"client_disconnect_timeout_ms\", \"keep_alive_secs\", \"body_timeout_ms\", \"max_connections\", \"allow_dev_keys\"",
                line("bogus")
            ),
            format!(
                "{file}:{}: admin.port = 70000: must be a whole number from 0 to 65535",
                line("port = 70000")
            ),
            format!(
                "{file}:{}: keys[2].state (key \"dev-signing-1\") = \"decrypt_only\": must be one of \"pending\", \"active\", \"decrypt-only\", \"retired\"",
                line("state = \"decrypt_only")
            ),
            format!(
                "{file}:{}: limits.max_lines = -1: must be a whole number, 0 or more",
                line("max_lines")
            ),
        ]
    );
}

#[test]
fn a_syntax_error_keeps_its_reason_and_place() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.toml");
    std::fs::write(&path, "[server]\nhost = \"127.0.0.1\nport = 1\n").unwrap();
    let problems = Settings::load(&path).unwrap_err().0;
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(
        problems[0].starts_with(&format!("{}:2:", path.display()))
            && problems[0].contains("invalid basic string"),
        "{problems:?}"
    );
}

#[test]
fn memcached_settings_are_checked() {
    let mut settings = shipped();
    assert!(settings.validate().is_empty());
    for good in ["tcp://127.0.0.1:11211", "tcp://cache-1.internal:11311"] {
        settings.memcached.url = good.into();
        assert!(settings.validate().is_empty(), "{good}");
    }
    for bad in [
        "127.0.0.1:11211",
        "tcp://127.0.0.1",
        "tcp://127.0.0.1:0",
        "tcp://[::1]:11211",
        "tcp://user:pw@host:11211",
        "unix:///run/memcached.sock",
        "tcp://host:11211/x",
    ] {
        settings.memcached.url = bad.into();
        let problems = settings.validate();
        assert_eq!(problems.len(), 1, "{bad}: {problems:?}");
        assert!(!problems[0].contains(bad), "the URL is not echoed");
    }
    settings.memcached = MemcachedConfig {
        timeout_ms: 0,
        key_prefix: "has space:".into(),
        pool_size: 0,
        max_value_bytes: 100,
        ..MemcachedConfig::default()
    };
    assert_eq!(settings.validate().len(), 4);
}

#[test]
fn cors_origins_hold_only_the_characters_of_an_origin() {
    let mut settings = shipped();
    for bad in [
        "https://a.example; script-src *",
        "https://a.example/path",
        "https://a.example\" onload=\"x",
        "https://*.example",
        "null",
    ] {
        settings.cors.allowed_origins = vec![bad.into()];
        assert_eq!(settings.validate().len(), 1, "{bad}");
    }
    settings.cors.allowed_origins = vec!["https://shop.example:8443".into()];
    assert!(settings.validate().is_empty());
}
