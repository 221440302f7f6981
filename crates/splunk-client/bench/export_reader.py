"""Export benchmark, Python side: the same export read with splunk-sdk's JSONResultsReader.

Prints one JSON line like examples/export_bench.rs: rows, seconds, rows/s and this process's
peak resident memory (VmHWM). Run by `cargo xtask bench client-export` inside a venv where the
pinned splunk-sdk is installed.
"""

import argparse
import json
import time
from urllib.parse import urlencode, urlparse
from urllib.request import urlopen

import splunklib.client as client
import splunklib.results as results


def peak_rss_kib():
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", default="http://127.0.0.1:8089")
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--username", default="admin")
    parser.add_argument("--password", default="changeme")
    parser.add_argument("--file", help="time the reader alone on a saved export body")
    args = parser.parse_args()
    if args.file:
        with open(args.file, "rb") as body:
            started = time.perf_counter()
            count = count_rows(body)
        report("splunk-sdk JSONResultsReader (file)", args.rows, count, started)
        return

    url = urlparse(args.url)
    # Log in before the clock starts, as the Rust side does: the session key is fetched the way
    # splunk-client does it (output_mode=json) and handed to splunklib (sent as `Splunk <key>`).
    form = urlencode({"username": args.username, "password": args.password, "output_mode": "json"})
    with urlopen(f"{args.url}/services/auth/login", data=form.encode()) as answer:
        session_key = json.load(answer)["sessionKey"]
    service = client.Service(host=url.hostname, port=url.port, scheme=url.scheme, token=session_key)
    started = time.perf_counter()
    # The same endpoint and form as splunk-client's export (jobs.export() would pick the v2 path).
    response = service.post(
        "search/jobs/export",
        search=f"search index=bench | head {args.rows}",
        output_mode="json",
        earliest_time="0",
    )
    count = count_rows(response.body)
    report("splunk-sdk JSONResultsReader", args.rows, count, started)


def count_rows(stream):
    count = 0
    for item in results.JSONResultsReader(stream):
        if isinstance(item, dict):
            count += 1
        elif isinstance(item, results.Message) and item.type in ("ERROR", "FATAL"):
            raise SystemExit(f"export failed: {item.message}")
    return count


def report(reader, expected, count, started):
    seconds = time.perf_counter() - started
    if count != expected:
        raise SystemExit(f"expected {expected} rows, got {count}")
    print(json.dumps({
        "reader": reader,
        "rows": count,
        "seconds": seconds,
        "rows_per_sec": count / seconds,
        "peak_rss_kib": peak_rss_kib(),
    }))


if __name__ == "__main__":
    main()
