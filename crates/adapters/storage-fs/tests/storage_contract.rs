//! The storage contract suite on the filesystem adapter, each case in its own temporary data directory.

#![allow(clippy::expect_used)]

use std::sync::Arc;

use hub_storage_fs::FsResultStore;
use hub_test_support::storage_contract::StorageFixture;

async fn open() -> StorageFixture {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let store = FsResultStore::open(dir.path()).await.expect("the data directory opens");
    StorageFixture::of(Arc::new(store), dir)
}

hub_test_support::storage_contract_tests!(open);
