//! Durations written as whole milliseconds or seconds in the file and the environment (`rpc_timeout_ms = 10000`,
//! `FLOWMATE_TOKEN_TTL_SECS=10800`) and held as [`Duration`] in the settings.

use std::time::Duration;

use serde::{Deserialize, Deserializer};

/// `u64` milliseconds as a [`Duration`].
pub mod millis {
    use super::*;

    /// Reads whole milliseconds.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        u64::deserialize(d).map(Duration::from_millis)
    }
}

/// `u64` seconds as a [`Duration`].
pub mod secs {
    use super::*;

    /// Reads whole seconds.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        u64::deserialize(d).map(Duration::from_secs)
    }
}
