//! The HTTP intake benchmark runs end to end on a small load and reports consistent figures
//! (no timing assertions).

use weft_bench::{IntakeHttpBenchOptions, bench_http_intake};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_intake_bench_journals_every_request_and_reports_figures() {
    let dir = tempfile::tempdir().unwrap();
    let figures = bench_http_intake(IntakeHttpBenchOptions {
        requests: 300,
        concurrency: 16,
        dir: Some(dir.path().to_owned()),
        ..IntakeHttpBenchOptions::default()
    })
    .await
    .unwrap();
    assert_eq!(figures.requests, 300);
    assert_eq!(figures.journaled, 300);
    assert!(
        figures.batches >= 1 && figures.batches <= 300,
        "{figures:?}"
    );
    assert!(figures.webhooks_per_sec > 0.0 && figures.raw_appends_per_sec > 0.0);
    assert!(figures.p50_ms <= figures.p99_ms);
    assert!(figures.raw_appends >= 1 && figures.raw_appends <= 300);
    assert!(figures.body_bytes > 1000);
    // The scratch files are removed.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[tokio::test]
async fn http_intake_bench_refuses_empty_runs() {
    let err = bench_http_intake(IntakeHttpBenchOptions {
        requests: 0,
        ..IntakeHttpBenchOptions::default()
    })
    .await
    .unwrap_err();
    assert!(err.to_string().contains("at least 1"), "{err}");
}
