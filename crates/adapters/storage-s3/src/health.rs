//! [`StorageHealth`] on object storage: the readiness check writes, reads and deletes a probe object, as start-up
//! does, so a bucket that can be listed but not written counts as unavailable.

use async_trait::async_trait;
use hub_domain::ports::{StorageError, StorageHealth};

use crate::S3Storage;

#[async_trait]
impl StorageHealth for S3Storage {
    async fn check(&self) -> Result<(), StorageError> {
        S3Storage::check(self).await
    }

    fn kind(&self) -> &'static str {
        "s3"
    }
}
