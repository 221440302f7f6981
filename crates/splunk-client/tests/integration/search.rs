//! Searches: oneshot, jobs (create, status, wait, results, events, cancel, delete), export, and
//! the time range and query checks that happen before anything is sent.

use std::time::Duration;

use futures::TryStreamExt;
use splunk_client::{CreatedJob, DispatchState, Error, SearchParams, Sid, TimeRange, WaitOptions};
use splunk_emulator::EmulatorConfig;

use crate::over_http_and_https;
use crate::support::{World, param};

over_http_and_https!(
    oneshot_returns_rows_fields_and_respects_count,
    bad_spl_is_a_bad_request_with_splunks_text,
    job_lifecycle,
    blocking_job_and_events,
    a_job_created_within_a_wait_ends_with_one_request,
    cancel_and_delete_tolerate_vanished_jobs,
    export_streams_rows,
    time_ranges_are_validated_before_sending,
);

fn all_time() -> SearchParams {
    SearchParams::with_time_range(TimeRange::parse("0", "").unwrap())
}

async fn oneshot_returns_rows_fields_and_respects_count(world: World) {
    let admin = world.admin();
    let results = admin
        .oneshot("index=web | head 5", &all_time())
        .await
        .unwrap();
    assert_eq!(results.results.len(), 5);
    assert!(!results.fields.is_empty());
    assert!(
        results
            .results
            .iter()
            .all(|r| r.contains_key("_raw") || r.contains_key("_time"))
    );

    let counted = admin
        .oneshot("| makeresults count=3 | eval x=1", &all_time())
        .await
        .unwrap();
    assert_eq!(counted.results.len(), 3);
    assert_eq!(counted.results[0]["x"], "1");

    let sent = world.requests("POST", "/services/search/jobs");
    let oneshot = sent.last().unwrap();
    assert_eq!(param(oneshot, "exec_mode"), Some("oneshot"));
    assert_eq!(param(oneshot, "output_mode"), Some("json"));
    assert_eq!(param(oneshot, "earliest_time"), Some("0"));
    // A bare query got `search ` in front.
    assert_eq!(param(&sent[0], "search"), Some("search index=web | head 5"));
}

async fn bad_spl_is_a_bad_request_with_splunks_text(world: World) {
    let admin = world.admin();
    let error = admin
        .oneshot("| nosuchcommand", &all_time())
        .await
        .unwrap_err();
    match &error {
        Error::BadRequest {
            status: 400,
            messages,
        } => {
            assert_eq!(messages[0].text, "Unknown search command 'nosuchcommand'.");
        }
        other => panic!("expected BadRequest, got {other:?}"),
    }
    assert!(
        error
            .to_string()
            .contains("Unknown search command 'nosuchcommand'.")
    );
    assert!(matches!(
        admin.create_job("| nosuchcommand", &all_time()).await,
        Err(Error::BadRequest { .. })
    ));
    assert!(matches!(
        admin.export("| nosuchcommand", &all_time()).await.err(),
        Some(Error::BadRequest { .. })
    ));
}

async fn job_lifecycle(world: World) {
    let admin = world.admin();
    let sid = admin
        .create_job("| makeresults count=25 | eval n=1", &all_time())
        .await
        .unwrap();
    let early = admin.job_status(&sid).await.unwrap();
    assert_eq!(early.sid, sid.as_str());
    let done = admin
        .wait_job(&sid, WaitOptions::with_deadline(Duration::from_secs(30)))
        .await
        .unwrap();
    assert!(done.is_done);
    assert_eq!(done.dispatch_state, DispatchState::Done);
    assert_eq!(done.result_count, 25);
    // Paged in 7s: four pages, the last one short.
    let rows: Vec<_> = admin.job_results(&sid, 7).try_collect().await.unwrap();
    assert_eq!(rows.len(), 25);
    let pages = world.requests("GET", &format!("/{sid}/results"));
    assert_eq!(pages.len(), 4);
    assert_eq!(param(&pages[3], "offset"), Some("21"));
    assert_eq!(param(&pages[3], "count"), Some("7"));
    let page = admin.job_results_page(&sid, 20, 10).await.unwrap();
    assert_eq!(page.results.len(), 5);
    admin.delete_job(&sid).await.unwrap();
    assert!(matches!(
        admin.job_status(&sid).await,
        Err(Error::NotFound { .. })
    ));
}

async fn blocking_job_and_events(world: World) {
    let admin = world.admin();
    let sid = admin
        .create_blocking_job("index=web | head 12", &all_time())
        .await
        .unwrap();
    let status = admin.job_status(&sid).await.unwrap();
    assert!(status.is_done, "a blocking job is done when created");
    let events: Vec<_> = admin.job_events(&sid, 5).try_collect().await.unwrap();
    assert_eq!(events.len(), 12);
    assert!(events.iter().all(|e| e.contains_key("_raw")));
    let page = admin.job_events_page(&sid, 10, 5).await.unwrap();
    assert_eq!(page.results.len(), 2);
}

async fn a_job_created_within_a_wait_ends_with_one_request(world: World) {
    let admin = world.admin();
    let sid = Sid::generate();
    let created = admin
        .create_job_within(
            "index=web | head 12",
            &all_time(),
            &sid,
            Duration::from_secs(10),
        )
        .await
        .unwrap();
    assert_eq!(created, CreatedJob::Ended(sid.clone()));
    let sent = world.requests("POST", "/services/search/jobs");
    assert_eq!(sent.len(), 1, "one request: {sent:?}");
    assert_eq!(param(&sent[0], "exec_mode"), Some("blocking"));
    assert_eq!(param(&sent[0], "id"), Some(sid.as_str()));
    let status = admin.job_status(&sid).await.unwrap();
    assert!(status.has_ended() && status.is_done, "{status:?}");
    assert_eq!(
        admin
            .job_results_page(&sid, 0, 100)
            .await
            .unwrap()
            .results
            .len(),
        12
    );

    // SPL that does not parse is Splunk's answer, not a wait.
    let bad = admin
        .create_job_within(
            "| nosuchcommand",
            &all_time(),
            &Sid::generate(),
            Duration::from_secs(10),
        )
        .await;
    assert!(matches!(bad, Err(Error::BadRequest { .. })), "{bad:?}");
    assert_ne!(Sid::generate(), Sid::generate());
}

/// A job that outlasts the wait runs on after the blocking request is given up.
#[tokio::test]
async fn a_job_that_outlasts_the_wait_runs_on_and_is_polled() {
    let world = World::with(EmulatorConfig {
        job_min_run_ms: 1500,
        ..EmulatorConfig::default()
    })
    .await;
    let admin = world.admin();
    let sid = Sid::generate();
    let created = admin
        .create_job_within(
            "index=web | stats count",
            &all_time(),
            &sid,
            Duration::from_millis(300),
        )
        .await
        .unwrap();
    assert_eq!(created, CreatedJob::Running(sid.clone()));
    let status = admin.job_status(&sid).await.unwrap();
    assert!(!status.has_ended(), "{status:?}");
    let done = admin
        .wait_job(&sid, WaitOptions::with_deadline(Duration::from_secs(30)))
        .await
        .unwrap();
    assert!(done.is_done, "{done:?}");
    let rows = admin.job_results_page(&sid, 0, 10).await.unwrap().results;
    assert_eq!(rows.len(), 1, "{rows:?}");
}

async fn cancel_and_delete_tolerate_vanished_jobs(world: World) {
    let admin = world.admin();
    let sid = admin
        .create_job("index=* | stats count by sourcetype", &all_time())
        .await
        .unwrap();
    admin.cancel_job(&sid).await.unwrap();
    let control = world.requests("POST", &format!("/{sid}/control"));
    assert_eq!(param(&control[0], "action"), Some("cancel"));
    let other = admin
        .create_job("| makeresults count=5", &all_time())
        .await
        .unwrap();
    admin.finalize_job(&other).await.unwrap();
    let finalize = world.requests("POST", &format!("/{other}/control"));
    assert_eq!(param(&finalize[0], "action"), Some("finalize"));
    admin.delete_job(&sid).await.unwrap();
    // Gone: cancel (404) and delete (404) still count as done.
    admin.cancel_job(&sid).await.unwrap();
    admin.delete_job(&sid).await.unwrap();
    admin.cancel_job(&Sid::new("1700000000.404")).await.unwrap();
    let statuses: Vec<u16> = world
        .requests("POST", "/control")
        .iter()
        .map(|r| r.status)
        .collect();
    assert_eq!(statuses.last(), Some(&404));
}

async fn export_streams_rows(world: World) {
    let admin = world.admin();
    let rows: Vec<_> = admin
        .export("index=web | head 250", &all_time())
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(rows.len(), 250);
    let none: Vec<_> = admin
        .export("index=web nosuchterm_zzz", &all_time())
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    assert!(none.is_empty());
    let bench: Vec<_> = admin
        .export("index=bench | head 1000", &all_time())
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(bench.len(), 1000);
}

async fn time_ranges_are_validated_before_sending(world: World) {
    let admin = world.admin();
    for (earliest, latest) in [("yesterday", ""), ("-24", ""), ("1700000001", "1700000000")] {
        assert!(matches!(
            TimeRange::parse(earliest, latest),
            Err(Error::InvalidArgument { .. })
        ));
    }
    assert!(matches!(
        admin.oneshot("   ", &SearchParams::default()).await,
        Err(Error::InvalidArgument { .. })
    ));
    assert!(
        world.emulator.request_log().is_empty(),
        "nothing may be sent"
    );
    // Every accepted form is accepted by Splunk too.
    for (earliest, latest) in [
        ("-24h", "now"),
        ("@d", ""),
        ("-7d@d", "@d"),
        ("1700000000", ""),
        ("2020-01-01T00:00:00Z", "2030-01-01T00:00:00+02:00"),
    ] {
        let params = SearchParams::with_time_range(TimeRange::parse(earliest, latest).unwrap());
        admin
            .oneshot("| makeresults count=1", &params)
            .await
            .unwrap_or_else(|e| panic!("{earliest}..{latest}: {e}"));
    }
}
