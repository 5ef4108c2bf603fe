//! `bench_intake` on a small load: it runs, cleans up after itself, and its figures are
//! consistent (group commit used fewer transactions than appends).

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bench_intake_reports_consistent_figures() {
    let dir = tempfile::tempdir().unwrap();
    let b = weft_store::bench_intake(dir.path(), 300, 32).await.unwrap();
    assert_eq!(b.appends, 300);
    assert!(b.batches >= 1 && b.batches < 300, "batches: {}", b.batches);
    assert!(b.mean_batch > 1.0);
    assert!(b.appends_per_sec > 0.0 && b.raw_appends_per_sec > 0.0);
    assert!(b.raw_appends >= 1 && b.raw_appends <= 300);
    assert!(b.p50_ms <= b.p99_ms);
    assert!(b.body_bytes > 500);
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        0,
        "scratch files removed"
    );
    assert!(matches!(
        weft_store::bench_intake(dir.path(), 0, 1).await,
        Err(weft_store::StoreError::InvalidArgument { .. })
    ));
}
