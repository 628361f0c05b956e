//! Layered configuration: built-in defaults (which run standalone with nothing installed), then a TOML file, then
//! `FLOWMATE_*` environment variables. Loading rejects what it does not understand — an unknown key in the file or
//! an unknown `FLOWMATE_*` variable (a typo would otherwise run with the default), a value of the wrong type, a
//! value out of range — with an error naming the key. Secrets are redacted in `Debug` output.

mod settings;
mod units;
mod validate;

use figment::{
    providers::{Env, Format, Toml},
    Figment,
};
pub use secrecy::{ExposeSecret, SecretString};

pub use crate::settings::{LogFormat, Settings};

/// Configuration could not be read, or is not valid.
#[derive(Debug, thiserror::Error)]
#[error("configuration: {0}")]
pub struct ConfigError(String);

impl Settings {
    /// Reads defaults, then the TOML file named by `FLOWMATE_CONFIG` (default `flowmate.toml`, if present), then
    /// `FLOWMATE_*` environment variables, and validates the result.
    pub fn load() -> Result<Settings, ConfigError> {
        let file = std::env::var("FLOWMATE_CONFIG").unwrap_or_else(|_| "flowmate.toml".into());
        Self::from_figment(Self::figment(&file))
    }

    fn figment(file: &str) -> Figment {
        Figment::new()
            .merge(Toml::file(file))
            .merge(Env::prefixed("FLOWMATE_").ignore(&["config"]))
    }

    fn from_figment(figment: Figment) -> Result<Settings, ConfigError> {
        let settings: Settings = figment.extract().map_err(|e| {
            // One line per problem; figment names the key and where it came from (file or environment).
            ConfigError(
                e.into_iter()
                    .map(|e| e.to_string())
                    .collect::<Vec<_>>()
                    .join("; "),
            )
        })?;
        settings.validate()?;
        Ok(settings)
    }

    /// Checks what types cannot say: ranges, URL shapes, the secrets key. Every problem is reported at once,
    /// each naming its key and environment variable.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let problems = validate::problems(self);
        if problems.is_empty() {
            Ok(())
        } else {
            Err(ConfigError(problems.join("; ")))
        }
    }

    /// The service's database: the configured URL, else the SQLite file `file` under the data directory
    /// (standalone mode).
    pub fn database_url_or_file(&self, file: &str) -> SecretString {
        match &self.database_url {
            Some(url) => url.clone(),
            None => SecretString::from(format!(
                "sqlite://{}?mode=rwc",
                self.data_dir.join(file).display()
            )),
        }
    }

    /// The database URL if one is configured.
    pub fn database_url(&self) -> Option<&str> {
        self.database_url.as_ref().map(|s| s.expose_secret())
    }

    /// The secrets key if one is configured.
    pub fn secrets_key(&self) -> Option<&str> {
        self.secrets_key.as_ref().map(|s| s.expose_secret())
    }

    /// The secrets keyring if one is configured: `secrets_keys`, else `secrets_key` (both parse as a keyring).
    pub fn secrets_keyring(&self) -> Option<&str> {
        self.secrets_keys
            .as_ref()
            .map(|s| s.expose_secret())
            .filter(|s| !s.trim().is_empty())
            .or_else(|| self.secrets_key())
    }

    /// The service credential if one is configured.
    pub fn service_token(&self) -> Option<&str> {
        self.service_token
            .as_ref()
            .map(|s| s.expose_secret())
            .filter(|s| !s.is_empty())
    }

    /// The public base URL of the REST API: `public_url`, else `http://<http_addr>`.
    pub fn public_url(&self) -> String {
        match self
            .public_url
            .as_deref()
            .map(str::trim)
            .filter(|u| !u.is_empty())
        {
            Some(url) => url.trim_end_matches('/').to_owned(),
            None => format!("http://{}", self.http_addr),
        }
    }

    /// The RabbitMQ URL if one is configured.
    pub fn amqp_url(&self) -> Option<&str> {
        self.amqp_url.as_ref().map(|s| s.expose_secret())
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn load(jail: &figment::Jail, file: &str) -> Result<Settings, ConfigError> {
        let _ = jail;
        Settings::from_figment(Settings::figment(file))
    }

    #[test]
    fn environment_overrides_file_overrides_defaults() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("f.toml", "http_addr = \"127.0.0.1:4000\"\ntoken_ttl_secs = 60\n")?;
            jail.set_env("FLOWMATE_TOKEN_TTL_SECS", "120");
            jail.set_env("FLOWMATE_ADMIN_PASSWORD", "s3cret-password");
            jail.set_env("FLOWMATE_RPC_TIMEOUT_MS", "2500");
            jail.set_env("FLOWMATE_LOG_FORMAT", "json");
            let s = load(jail, "f.toml").expect("valid");
            assert_eq!(s.http_addr.to_string(), "127.0.0.1:4000");
            assert_eq!(s.token_ttl, Duration::from_secs(120));
            assert_eq!(s.rpc_timeout, Duration::from_millis(2500));
            assert_eq!(s.log_format, LogFormat::Json);
            assert_eq!(s.body_limit_bytes, 10 * 1024 * 1024);
            assert!(
                !format!("{s:?}").contains("s3cret"),
                "secrets are redacted in Debug"
            );
            Ok(())
        });
    }

    #[test]
    fn an_unknown_key_in_the_file_is_an_error_naming_it() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("f.toml", "http_adr = \"127.0.0.1:4000\"\n")?;
            let e = load(jail, "f.toml").unwrap_err().to_string();
            assert!(e.contains("http_adr"), "{e}");
            Ok(())
        });
    }

    #[test]
    fn an_unknown_environment_variable_is_an_error_naming_it() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("FLOWMATE_EXECUTION_CONCURENCY", "4");
            let e = load(jail, "missing.toml").unwrap_err().to_string();
            assert!(e.contains("execution_concurency"), "{e}");
            Ok(())
        });
    }

    #[test]
    fn a_value_of_the_wrong_type_is_an_error_naming_the_key() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("FLOWMATE_RPC_TIMEOUT_MS", "ten seconds");
            let e = load(jail, "missing.toml").unwrap_err().to_string();
            assert!(e.to_lowercase().contains("rpc_timeout_ms"), "{e}");
            jail.set_env("FLOWMATE_RPC_TIMEOUT_MS", "10000");
            jail.set_env("FLOWMATE_HTTP_ADDR", "localhost");
            let e = load(jail, "missing.toml").unwrap_err().to_string();
            assert!(e.to_lowercase().contains("http_addr"), "{e}");
            Ok(())
        });
    }

    #[test]
    fn values_out_of_range_are_all_reported_with_their_variables() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("FLOWMATE_BODY_LIMIT_BYTES", "10");
            jail.set_env("FLOWMATE_IDENTITY_URL", "identity:50051");
            jail.set_env("FLOWMATE_SECRETS_KEY", "too-short");
            jail.set_env("FLOWMATE_DATABASE_URL", "mysql://db/flowmate");
            let e = load(jail, "missing.toml").unwrap_err().to_string();
            for needle in [
                "FLOWMATE_BODY_LIMIT_BYTES",
                "FLOWMATE_IDENTITY_URL",
                "FLOWMATE_SECRETS_KEY",
                "FLOWMATE_DATABASE_URL",
            ] {
                assert!(e.contains(needle), "{needle} missing from: {e}");
            }
            assert!(!e.contains("mysql://db"), "URLs may hold passwords: {e}");
            Ok(())
        });
    }

    #[test]
    fn a_keyring_is_accepted_and_a_bad_one_is_named() {
        figment::Jail::expect_with(|jail| {
            let key = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";
            jail.set_env("FLOWMATE_SECRETS_KEYS", format!("k2:{key}, {key}"));
            jail.set_env("FLOWMATE_SECRETS_KEY", format!("k1:{key}"));
            jail.set_env("FLOWMATE_SECRETS_TOKEN_TIMEOUT_MS", "2500");
            let s = load(jail, "missing.toml").expect("valid");
            assert_eq!(s.secrets_keyring(), Some(format!("k2:{key}, {key}").as_str()));
            assert_eq!(s.secrets_token_timeout, Duration::from_millis(2500));
            jail.set_env("FLOWMATE_SECRETS_KEYS", format!("a:{key},a:{key}"));
            let e = load(jail, "missing.toml").unwrap_err().to_string();
            assert!(e.contains("FLOWMATE_SECRETS_KEYS") && !e.contains(key), "{e}");
            Ok(())
        });
    }

    #[test]
    fn the_defaults_are_valid() {
        Settings::default().validate().expect("defaults are valid");
    }
}
