//! End-to-end tests of [`run`](super::run) over the seeded dataset: whole searches, as the HTTP
//! layer issues them.

use std::sync::{Arc, OnceLock};

use chrono::{DateTime, TimeZone, Utc};

use super::{Row, SearchRequest, SplError, Value, run};
use crate::data::Dataset;

const BENCH_EVENTS: u64 = 50_000;

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 20, 10, 0, 0).unwrap()
}

fn dataset() -> Arc<Dataset> {
    static DATASET: OnceLock<Arc<Dataset>> = OnceLock::new();
    DATASET
        .get_or_init(|| Arc::new(Dataset::seeded(now(), BENCH_EVENTS)))
        .clone()
}

fn everything() -> Vec<String> {
    vec!["*".to_string(), "_*".to_string()]
}

/// Runs `spl` as an admin-like user (every index allowed, `main` by default).
fn search(spl: &str) -> Vec<Row> {
    search_as(spl, &everything(), None)
}

fn search_as(spl: &str, allowed: &[String], earliest: Option<&str>) -> Vec<Row> {
    let defaults = vec!["main".to_string()];
    let request = SearchRequest {
        spl,
        earliest,
        latest: None,
        now: now(),
        allowed_indexes: allowed,
        default_indexes: &defaults,
        sample_ratio: 1,
    };
    match run(dataset(), &request) {
        Ok(output) => output.rows.collect(),
        Err(error) => panic!("{spl}: {error}"),
    }
}

fn failure(spl: &str) -> SplError {
    let none: Vec<String> = Vec::new();
    let request = SearchRequest {
        spl,
        earliest: None,
        latest: None,
        now: now(),
        allowed_indexes: &none,
        default_indexes: &none,
        sample_ratio: 1,
    };
    match run(dataset(), &request) {
        Ok(_) => panic!("{spl} should fail"),
        Err(error) => error,
    }
}

fn text<'a>(row: &'a Row, field: &str) -> &'a str {
    match row
        .iter()
        .find(|(name, _)| name == field)
        .map(|(_, value)| value)
    {
        Some(Value::Single(text)) => text,
        Some(Value::Multi(values)) => &values[0],
        None => "",
    }
}

fn count_of(spl: &str) -> u64 {
    let rows = search(spl);
    assert_eq!(rows.len(), 1, "{spl}");
    text(&rows[0], "count").parse().unwrap()
}

fn names(row: &Row) -> Vec<&str> {
    row.iter().map(|(name, _)| name.as_str()).collect()
}

#[test]
fn stats_agree_with_a_full_scan() {
    let all = search("search index=web");
    let not_found = all
        .iter()
        .filter(|row| text(row, "status") == "404")
        .count() as u64;
    assert!(not_found > 100);
    assert_eq!(
        count_of("search index=web status=404 | stats count"),
        not_found
    );
    assert_eq!(
        count_of("search index=web | where status=404 | stats count"),
        not_found
    );
    assert_eq!(
        count_of("search index=web | search status=404 | stats count"),
        not_found
    );
    assert_eq!(
        count_of("search index=web NOT status=404 | stats count"),
        all.len() as u64 - not_found
    );
    assert_eq!(
        count_of("search index=web status!=404 | stats count"),
        all.len() as u64 - not_found
    );
    assert!(count_of("search index=web 404 | stats count") >= not_found);
    let by_status = search("search index=web | stats count by status");
    let total: u64 = by_status
        .iter()
        .map(|row| text(row, "count").parse::<u64>().unwrap())
        .sum();
    assert_eq!(total, all.len() as u64);
    assert_eq!(names(&by_status[0]), ["status", "count"]);
    assert_eq!(
        text(&by_status[0], "status"),
        "200",
        "groups sorted numerically"
    );
}

#[test]
fn event_rows_look_like_splunk() {
    let rows = search("search index=web | head 3");
    assert_eq!(rows.len(), 3);
    let row = &rows[0];
    for field in [
        "_bkt",
        "_cd",
        "_indextime",
        "_raw",
        "_serial",
        "_si",
        "_sourcetype",
        "_time",
        "host",
        "index",
        "linecount",
        "source",
        "sourcetype",
        "splunk_server",
        "clientip",
        "method",
        "uri",
        "status",
        "bytes",
        "useragent",
        "user",
    ] {
        assert!(row.iter().any(|(name, _)| name == field), "missing {field}");
    }
    let time = text(row, "_time");
    assert_eq!(time.len(), "2026-11-20T10:00:00.123+00:00".len(), "{time}");
    assert!(time.ends_with("+00:00") && time.contains('T'));
    assert_eq!(text(row, "sourcetype"), "access_combined");
    assert_eq!(text(row, "splunk_server"), "splunk-emulator");
    assert!(
        text(&rows[0], "_time") >= text(&rows[1], "_time"),
        "newest first"
    );
}

#[test]
fn index_visibility_follows_roles() {
    let web_only = vec!["web".to_string()];
    assert!(search_as("search index=security", &web_only, None).is_empty());
    assert!(!search_as("search index=web | head 1", &web_only, None).is_empty());
    let indexes = |spl: &str, allowed: &[String]| {
        let mut found: Vec<String> = search_as(spl, allowed, None)
            .iter()
            .map(|row| text(row, "index").to_string())
            .collect();
        found.sort();
        found.dedup();
        found
    };
    assert_eq!(
        indexes("search index=* | dedup index", &everything()),
        ["bench", "firewall", "main", "security", "web"]
    );
    assert_eq!(
        indexes("search index=_* | dedup index", &everything()),
        ["_audit", "_internal"]
    );
    assert_eq!(
        indexes("search index=_internal | head 1", &["*".to_string()]),
        Vec::<String>::new()
    );
    assert_eq!(
        indexes(
            "search index=* | dedup index",
            &["w*".to_string(), "main".to_string()]
        ),
        ["main", "web"]
    );
    assert_eq!(
        indexes("search * | dedup index", &everything()),
        ["main"],
        "default indexes"
    );
    assert_eq!(
        indexes(
            "search index=web OR index=security | dedup index",
            &everything()
        ),
        ["security", "web"]
    );
}

#[test]
fn boolean_search_terms() {
    let security = search("search index=security").len();
    let failures = search("search index=security action=failure").len();
    let successes = search("search index=security action=success").len();
    assert_eq!(failures + successes, security);
    let either = search("search index=security (user=alice OR user=bob)").len();
    let alice = search("search index=security user=alice").len();
    let bob = search("search index=security user=BOB").len();
    assert_eq!(either, alice + bob);
    assert!(alice > 0 && bob > 0);
    let phrase = search(r#"search index=security "Failed password""#);
    assert!(!phrase.is_empty() && phrase.iter().all(|row| text(row, "action") == "failure"));
    let wildcard = search("search index=web host=web-0* | stats dc(host) AS hosts");
    assert_eq!(text(&wildcard[0], "hosts"), "4");
    let big = search("search index=web bytes>40000");
    assert!(
        !big.is_empty()
            && big
                .iter()
                .all(|row| text(row, "bytes").parse::<u64>().unwrap() > 40_000)
    );
    let sourcetype = search("search sourcetype=pan:traffic action=blocked | stats count by index");
    assert_eq!(
        sourcetype.len(),
        0,
        "pan:traffic lives outside the default index"
    );
    let blocked = search(
        "search index=firewall sourcetype=pan:traffic action=blocked dest_port=3389 | head 5",
    );
    assert_eq!(blocked.len(), 5);
}

#[test]
fn time_ranges() {
    let all = search("search index=web").len();
    let day = search("search index=web earliest=-24h").len();
    let from_form = search_as("search index=web", &everything(), Some("-24h")).len();
    assert_eq!(day, from_form);
    assert!(day > all / 10 && day < all / 4, "{day} of {all}");
    let snapped = search("search index=web earliest=-1d@d latest=@d");
    assert!(
        snapped
            .iter()
            .all(|row| text(row, "_time").starts_with("2026-11-19"))
    );
    let mid = search("search index=web | search earliest=-24h | stats count");
    assert_eq!(text(&mid[0], "count"), day.to_string());
}

#[test]
fn row_commands() {
    let table = search("search index=web | table host status | head 2");
    assert_eq!(table.len(), 2);
    assert_eq!(names(&table[0]), ["host", "status"]);
    let fields = search("search index=web | fields - _* clientip | head 1");
    assert!(
        names(&fields[0])
            .iter()
            .all(|name| !name.starts_with('_') && *name != "clientip")
    );
    let renamed = search("search index=web | rename clientip AS ip | table ip | head 1");
    assert_eq!(names(&renamed[0]), ["ip"]);
    let sorted = search("search index=web | sort - bytes | head 3 | table bytes");
    let bytes: Vec<u64> = sorted
        .iter()
        .map(|row| text(row, "bytes").parse().unwrap())
        .collect();
    assert!(bytes.windows(2).all(|pair| pair[0] >= pair[1]));
    let sorted_default = search("search index=web | sort bytes");
    assert_eq!(
        sorted_default.len(),
        10_000,
        "sort keeps 10000 rows by default"
    );
    assert_eq!(
        search("search index=web | sort 0 bytes").len(),
        search("search index=web").len()
    );
    let hosts = search("search index=web | dedup host | table host");
    assert_eq!(hosts.len(), 4);
    let evaluated = search(
        r#"search index=web | eval kb=round(bytes/1024, 1), kind=if(status>=400, "error", "ok") | table bytes kb kind | head 1"#,
    );
    let expected_kb =
        (text(&evaluated[0], "bytes").parse::<f64>().unwrap() / 1024.0 * 10.0).round() / 10.0;
    assert_eq!(
        text(&evaluated[0], "kb").parse::<f64>().unwrap(),
        expected_kb
    );
    let tail = search("search index=web | tail 2");
    let all = search("search index=web");
    assert_eq!(
        text(&tail[0], "_serial"),
        text(&all[all.len() - 1], "_serial")
    );
    let where_rows =
        search(r#"search index=security | where user="alice" AND action="failure" | stats count"#);
    assert_eq!(
        text(&where_rows[0], "count"),
        search("search index=security user=alice action=failure")
            .len()
            .to_string()
    );
}

#[test]
fn transforming_commands() {
    let top = search("search index=web | top limit=3 status");
    assert_eq!(top.len(), 3);
    assert_eq!(names(&top[0]), ["status", "count", "percent"]);
    assert_eq!(text(&top[0], "status"), "200");
    let rare = search("search index=web | rare status");
    assert_eq!(text(&rare[rare.len() - 1], "status"), "200");
    let by_host = search("search index=web | top 1 status by host");
    assert_eq!(by_host.len(), 4);
    let stats = search(
        "search index=web | stats count, dc(clientip) AS clients, avg(bytes), min(bytes), max(bytes), values(method) by host",
    );
    assert_eq!(stats.len(), 4);
    assert_eq!(text(&stats[0], "host"), "web-01");
    assert!(matches!(
        stats[0].iter().find(|(n, _)| n == "values(method)"),
        Some((_, Value::Multi(_)))
    ));
    let tstats = search("| tstats count where index=web by host");
    let stats_by_host = search("search index=web | stats count by host");
    assert_eq!(tstats, stats_by_host);
    let metadata = search("| metadata type=hosts index=web");
    assert_eq!(metadata.len(), 4);
    assert_eq!(
        names(&metadata[0]),
        [
            "firstTime",
            "host",
            "lastTime",
            "recentTime",
            "totalCount",
            "type"
        ]
    );
    let total: u64 = metadata
        .iter()
        .map(|row| text(row, "totalCount").parse::<u64>().unwrap())
        .sum();
    assert_eq!(total, search("search index=web").len() as u64);
    let sourcetypes = search("| metadata type=sourcetypes index=*");
    assert!(
        sourcetypes
            .iter()
            .any(|row| text(row, "sourcetype") == "linux_secure")
    );
    let made = search("| makeresults count=3 | eval x=1");
    assert_eq!(made.len(), 3);
    assert_eq!(text(&made[0], "_time"), "2026-11-20T10:00:00.000+00:00");
    assert_eq!(count_of("| tstats count where index=bench"), BENCH_EVENTS);
}

#[test]
fn charting_and_extraction_commands() {
    let chart = search("search index=web earliest=-24h | timechart span=1h count");
    assert!(chart.len() == 24 || chart.len() == 25, "{}", chart.len());
    let total: u64 = chart
        .iter()
        .map(|row| text(row, "count").parse::<u64>().unwrap())
        .sum();
    assert_eq!(total, search("search index=web earliest=-24h").len() as u64);
    assert_eq!(names(&chart[0]), ["_time", "count", "_span"]);
    assert!(text(&chart[0], "_time").ends_with(":00:00.000+00:00"));
    let by_host = search("search index=web earliest=-24h | timechart span=6h count by host");
    assert_eq!(
        names(&by_host[0]),
        ["_time", "web-01", "web-02", "web-03", "web-04", "_span"]
    );
    let limited =
        search("search index=web earliest=-24h | timechart span=6h limit=2 count by host");
    assert_eq!(names(&limited[0]).last(), Some(&"_span"));
    assert!(names(&limited[0]).contains(&"OTHER"));
    let binned = search("search index=web | bin _time span=1d | stats count by _time");
    assert!(binned.len() == 7 || binned.len() == 8);
    assert!(
        binned
            .iter()
            .all(|row| text(row, "_time").ends_with("T00:00:00.000+00:00"))
    );
    let sized = search("search index=web | bin bytes span=10000 | stats count by bytes");
    assert_eq!(text(&sized[0], "bytes"), "0-10000");
    let extracted = search(
        r#"search index=security app=sshd | rex "from (?<attacker>\d+\.\d+\.\d+\.\d+) port (?<port>\d+)" | where attacker=src AND port=src_port | stats count"#,
    );
    assert_eq!(
        text(&extracted[0], "count"),
        search("search index=security app=sshd").len().to_string()
    );
    let sed = search(
        r#"search index=web | head 1 | rex field=clientip mode=sed "s/\d+$/x/" | table clientip"#,
    );
    assert!(
        text(&sed[0], "clientip").ends_with(".x"),
        "{}",
        text(&sed[0], "clientip")
    );
    let filled = search(
        "search index=security | fillnull value=none src | stats count by src | where src=\"none\"",
    );
    assert_eq!(
        text(&filled[0], "count"),
        search("search index=security app=sudo").len().to_string()
    );
    let filled_all =
        search("search index=security | table user src | fillnull | search src=0 | stats count");
    assert_eq!(
        text(&filled_all[0], "count"),
        search("search index=security app=sudo").len().to_string()
    );
    let counts = search("| eventcount summarize=false index=*");
    let web = counts
        .iter()
        .find(|row| text(row, "index") == "web")
        .unwrap();
    assert_eq!(
        text(web, "count"),
        search("search index=web").len().to_string()
    );
    assert_eq!(names(web), ["count", "index", "server"]);
    let chart = search("search index=web | chart count over host by method");
    assert_eq!(chart.len(), 4);
    assert_eq!(names(&chart[0]), ["host", "DELETE", "GET", "POST", "PUT"]);
    let per_host = search("search index=web host=web-01 method=GET | stats count");
    assert_eq!(text(&chart[0], "GET"), text(&per_host[0], "count"));
    assert_eq!(
        search("search index=web | chart count by host method"),
        chart
    );
    let totals =
        search("search index=web | eventstats count AS total by host | head 1 | table host total");
    let host = text(&totals[0], "host").to_string();
    assert_eq!(
        text(&totals[0], "total"),
        search(&format!("search index=web host={host}"))
            .len()
            .to_string()
    );
    let matched = search(r#"search index=web | where match(uri, "^/api/") | stats count"#);
    assert_eq!(
        text(&matched[0], "count"),
        search("search index=web uri=/api/*").len().to_string()
    );
}

#[test]
fn transforming_flag() {
    let defaults = vec!["main".to_string()];
    let allowed = everything();
    for (spl, expected) in [
        ("search index=web", false),
        ("search index=web | head 3 | eval x=1", false),
        ("search index=web | stats count", true),
        ("search index=web | top host", true),
        ("| makeresults", false),
        ("| metadata type=hosts", true),
        ("| tstats count where index=web", true),
        ("| inputlookup http_status.csv", true),
    ] {
        let request = SearchRequest {
            spl,
            earliest: None,
            latest: None,
            now: now(),
            allowed_indexes: &allowed,
            default_indexes: &defaults,
            sample_ratio: 1,
        };
        assert_eq!(
            run(dataset(), &request).unwrap().transforming,
            expected,
            "{spl}"
        );
    }
}

#[test]
fn subsearches_become_filters() {
    let failed_users =
        search("search index=security action=failure app=sudo | dedup user | table user");
    let expected: u64 = failed_users
        .iter()
        .map(|row| search(&format!("search index=web user={}", text(row, "user"))).len() as u64)
        .sum();
    let spliced = count_of(
        "search index=web [search index=security action=failure app=sudo | dedup user | fields user] | stats count",
    );
    assert_eq!(spliced, expected);
    assert_eq!(
        count_of(
            "search index=web [search index=security user=nobody-at-all | fields user] | stats count"
        ),
        0
    );
}

#[test]
fn inputlookup_reads_lookup_tables() {
    let by_file = search("| inputlookup http_status.csv");
    assert_eq!(by_file.len(), 12);
    assert_eq!(
        names(&by_file[0]),
        ["status", "status_description", "status_type"]
    );
    assert_eq!(text(&by_file[0], "status_description"), "OK");
    assert_eq!(
        search("| inputlookup http_status"),
        by_file,
        "by definition"
    );
    let cases: &[(&str, &[&str])] = &[
        (
            "| inputlookup http_status where status>=500",
            &["500", "502", "503"],
        ),
        (
            "| inputlookup http_status | search status_type=\"Client Error\" | head 2",
            &["400", "401"],
        ),
        ("| inputlookup start=10 http_status.csv", &["502", "503"]),
        ("| inputlookup max=2 http_status.csv", &["200", "201"]),
        (
            "| inputlookup http_status | search Redirection",
            &["301", "304"],
        ),
        (
            "| inputlookup http_status where [| inputlookup http_status | search status=404 | fields status]",
            &["404"],
        ),
    ];
    for (spl, statuses) in cases {
        let rows = search(spl);
        let found: Vec<&str> = rows.iter().map(|row| text(row, "status")).collect();
        assert_eq!(found, *statuses, "{spl}");
    }
    assert_eq!(
        count_of(
            "search index=web [| inputlookup http_status where status_type=\"Server Error\" | fields status] | stats count"
        ),
        count_of("search index=web status>=500 | stats count"),
        "a lookup as a subsearch filter"
    );
    let appended = search("| makeresults count=2 | inputlookup append=true http_status.csv");
    assert_eq!(appended.len(), 14);
}

#[test]
fn bench_streams_lazily() {
    let defaults = vec!["main".to_string()];
    let allowed = everything();
    let request = SearchRequest {
        spl: "search index=bench",
        earliest: None,
        latest: None,
        now: now(),
        allowed_indexes: &allowed,
        default_indexes: &defaults,
        sample_ratio: 1,
    };
    let mut output = run(dataset(), &request).unwrap();
    let first = output.rows.next().unwrap();
    assert_eq!(text(&first, "sourcetype"), "bench");
    assert_eq!(output.rows.count() as u64 + 1, BENCH_EVENTS);
    assert!(count_of("search index=bench level=ERROR | stats count") > 0);
    assert_eq!(search("search index=bench | head 5").len(), 5);
}

#[test]
fn errors_are_reported_before_any_row() {
    let cases = [
        (
            "search index=web | nosuchcommand",
            "Unknown search command 'nosuchcommand'.",
        ),
        (
            "search index=web earliest=yesterday",
            "Invalid value \"yesterday\" for time term 'earliest'",
        ),
        (
            "search index=web latest=never",
            "Invalid value \"never\" for time term 'latest'",
        ),
        (
            "search index=web | makeresults",
            "Error in 'makeresults' command: This command must be the first command of a search.",
        ),
        (
            "search index=web | head -5",
            "Error in 'head' command: The argument must be a positive integer.",
        ),
        (
            r#"search index=web | rex "(unclosed""#,
            "Error in 'rex' command: Encountered the following error while compiling the regex '(unclosed': error: unclosed group.",
        ),
        (
            r#"search index=web | rex "no groups""#,
            "Error in 'rex' command: The regex 'no groups' does not extract anything. It should specify at least one named group. Format: (?<name>...).",
        ),
        (
            "search index=web | timechart span=soon count",
            "Error in 'timechart' command: The value for option span (soon) is invalid.",
        ),
        (
            "search index=web [search | bogus]",
            "Unknown search command 'bogus'.",
        ),
        (
            "| inputlookup nosuch.csv",
            "Error in 'inputlookup' command: The lookup table 'nosuch.csv' does not exist or is not available.",
        ),
        (
            "| inputlookup nosuch",
            "Error in 'inputlookup' command: The lookup table 'nosuch' requires a .csv or KV store lookup definition.",
        ),
        (
            "search index=web | inputlookup http_status.csv",
            "Error in 'inputlookup' command: This command must be the first command of a search.",
        ),
    ];
    for (spl, message) in cases {
        assert_eq!(failure(spl).to_string(), message, "{spl}");
    }
}
