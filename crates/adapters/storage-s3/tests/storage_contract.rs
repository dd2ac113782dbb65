//! The storage contract suite on the object-storage adapter, each case in a fresh bucket of a real S3 on loopback
//! (moto, see `hub_test_support::s3`) under a key prefix, with its own local scratch directory.
//!
//! Without S3 (and without `ALLURE_HUB_REQUIRE_S3`), the cases run on `object_store`'s in-memory store instead, so
//! that the adapter's own logic is still exercised; the skip of S3 itself is announced once.

#![allow(clippy::expect_used)]

use std::sync::Arc;

use hub_domain::ports::{ArchiveError, StorageError};
use hub_storage_s3::{Extractor, S3Settings, S3Storage};
use hub_test_support::s3::S3TestBucket;
use hub_test_support::storage_contract::StorageFixture;

/// The archive checks the server hands to the adapter: the filesystem adapter's, on the opened file.
fn extractor() -> Extractor {
    Arc::new(|archive, staging, limits| {
        let file = std::fs::File::open(archive)
            .map_err(|e| ArchiveError::Storage(StorageError::new(format!("cannot open the upload: {e}"))))?;
        hub_storage_fs::archive::extract(std::io::BufReader::new(file), staging, limits)
    })
}

async fn open() -> StorageFixture {
    let scratch = tempfile::tempdir().expect("a temporary directory");
    let storage = match S3TestBucket::create() {
        Some(bucket) => {
            let settings = S3Settings::parse(&bucket.url("hub/contract"), bucket.vars()).expect("valid settings");
            let storage = S3Storage::connect(&settings, scratch.path().join("scratch"), extractor())
                .await
                .expect("the client is configured");
            storage.check().await.expect("the bucket can be written");
            storage
        }
        None => {
            let memory = Arc::new(object_store::memory::InMemory::new());
            S3Storage::with_store(memory, scratch.path().join("scratch"), extractor(), "memory://".into())
                .await
                .expect("the scratch directory is created")
        }
    };
    StorageFixture::of(Arc::new(storage), scratch)
}

hub_test_support::storage_contract_tests!(open);
