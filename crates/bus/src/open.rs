//! Choosing the backend from configuration.

use std::{path::Path, sync::Arc};

use crate::{amqp::AmqpBus, embedded::EmbeddedBus, BusError, SharedBus};

/// RabbitMQ when `amqp_url` is set, else the embedded queue in `<data_dir>/bus.db`.
pub async fn open(amqp_url: Option<&str>, exchange: &str, data_dir: &Path) -> Result<SharedBus, BusError> {
    match amqp_url {
        Some(url) => Ok(Arc::new(AmqpBus::connect(url, exchange).await?)),
        None => {
            std::fs::create_dir_all(data_dir).map_err(|e| BusError::Unavailable(e.to_string()))?;
            Ok(Arc::new(EmbeddedBus::open(&data_dir.join("bus.db")).await?))
        }
    }
}
