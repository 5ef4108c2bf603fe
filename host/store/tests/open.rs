//! Opening databases: commands that inspect one never create one, and a running store can tell
//! when its SQLite file was deleted or replaced under it.

use weft_store::{Store, StoreError};

#[tokio::test]
async fn open_existing_names_a_missing_file_and_creates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("typo.db");
    for url in [
        missing.display().to_string(),
        format!("sqlite://{}", missing.display()),
        format!("sqlite://{}?mode=rwc", missing.display()),
    ] {
        let err = Store::open_existing(&url).await.unwrap_err();
        assert!(
            matches!(&err, StoreError::NotFound { path } if path.ends_with("typo.db")),
            "{url}: {err:?}"
        );
        assert!(err.to_string().contains("does not exist"), "{err}");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0, "{url}");
    }
    // An existing one opens.
    let path = dir.path().join("weft.db");
    Store::open(&path.display().to_string())
        .await
        .unwrap()
        .close()
        .await;
    let s = Store::open_existing(&path.display().to_string())
        .await
        .unwrap();
    s.check_file().unwrap();
}

#[tokio::test]
async fn check_file_tells_deleted_from_replaced() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("weft.db");
    let s = Store::open(&path.display().to_string()).await.unwrap();
    s.check_file().unwrap();
    std::fs::rename(&path, dir.path().join("elsewhere.db")).unwrap();
    let err = s.check_file().unwrap_err();
    assert!(err.to_string().contains("was deleted"), "{err}");
    std::fs::write(&path, b"").unwrap();
    let err = s.check_file().unwrap_err();
    assert!(err.to_string().contains("was replaced"), "{err}");
    assert!(err.to_string().contains("weft.db"), "{err}");

    // In-memory databases have no file to lose.
    let m = Store::open("sqlite::memory:").await.unwrap();
    m.check_file().unwrap();
}
