//! Key rotation (`flowmate secrets rotate`): every sealed value not sealed with the first key of the ring is opened
//! and sealed again with it, in batches by id. Each row is replaced only if it still holds what was read, so a
//! change written meanwhile (an update, a token refresh) is never overwritten; the plaintext does not change, so no
//! event is published and no cache is invalidated. Interrupting it is safe and running it again carries on.

use flowmate_auth::secrets::SecretBox;

use crate::store::{SealedTable, SqlStore};

/// Rows read at a time.
pub const BATCH: u32 = 200;

/// What a rotation did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct RotationReport {
    /// Values sealed again with the first key.
    pub resealed: u64,
    /// Values changed by someone else while they were being re-sealed (counted in `remaining` if still old).
    pub skipped: u64,
    /// Values no key of the ring opens (left as they are; the key they need is missing from the ring).
    pub unreadable: u64,
    /// Values still sealed with another key after the pass.
    pub remaining: u64,
}

/// Re-seals every value of `store` with the first key of `keys`; `progress` hears after each batch.
pub async fn rotate(
    store: &SqlStore,
    keys: &SecretBox,
    mut progress: impl FnMut(SealedTable, &RotationReport),
) -> anyhow::Result<RotationReport> {
    let kid = keys.primary_kid().to_owned();
    let mut report = RotationReport::default();
    for table in SealedTable::ALL {
        let mut after = String::new();
        loop {
            let rows = store.sealed_with_other_keys(table, &kid, &after, BATCH).await?;
            let Some((last, _)) = rows.last() else {
                break;
            };
            after = last.clone();
            for (id, sealed) in &rows {
                let resealed = match keys.reseal(sealed) {
                    Ok(r) => r,
                    Err(_) => {
                        tracing::warn!(id = %id, kid = ?SecretBox::kid_of(sealed), "a value cannot be opened with the configured keys");
                        report.unreadable += 1;
                        continue;
                    }
                };
                if store.reseal_row(table, id, sealed, &resealed).await? {
                    report.resealed += 1;
                } else {
                    report.skipped += 1;
                }
            }
            progress(table, &report);
        }
        report.remaining += store.count_sealed_with_other_keys(table, &kid).await?;
    }
    Ok(report)
}
