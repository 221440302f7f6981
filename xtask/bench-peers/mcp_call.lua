-- wrk script of `cargo xtask bench compare`: POSTs one JSON-RPC request over and over and counts
-- the answers that are not a successful result.
--
-- Environment: BENCH_BODY (the JSON-RPC request), BENCH_HEADERS (extra headers, one
-- `Name: value` per line: Authorization, MCP-Protocol-Version, ...), BENCH_EXPECT (a string every
-- successful answer contains) and BENCH_EXPECT_COUNT (how many times at least, e.g. once per
-- row of a search). The summary is one line starting with BENCH_RESULT.

wrk.method = "POST"
wrk.body = os.getenv("BENCH_BODY")
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Accept"] = "application/json, text/event-stream"
for line in string.gmatch(os.getenv("BENCH_HEADERS") or "", "[^\n]+") do
  local name, value = string.match(line, "^([^:]+):%s*(.*)$")
  if name then
    wrk.headers[name] = value
  end
end

local expect = os.getenv("BENCH_EXPECT") or ""
local expect_count = tonumber(os.getenv("BENCH_EXPECT_COUNT") or "1") or 1
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  failures = 0
  first_failure = ""
end

-- Whether `text` occurs at least `wanted` times in `body` (plain search, stops once found enough).
local function occurs(body, text, wanted)
  local found, from = 0, 1
  while found < wanted do
    local at = string.find(body, text, from, true)
    if not at then
      return false
    end
    found, from = found + 1, at + #text
  end
  return true
end

-- A 200 whose body is a JSON-RPC error, a tool error, or lacks the expected content is a failure
-- too (wrk counts other statuses itself).
function response(status, headers, body)
  if status == 200 then
    local ok = string.find(body, '"result"', 1, true)
      and occurs(body, expect, expect_count)
      and not string.find(body, '"isError":true', 1, true)
    if not ok then
      failures = failures + 1
      if first_failure == "" then
        first_failure = string.sub(body, 1, 400)
      end
    end
  end
end

function done(summary, latency, requests)
  local failed, sample = 0, ""
  for _, thread in ipairs(threads) do
    failed = failed + thread:get("failures")
    local first = thread:get("first_failure")
    if first ~= "" then
      sample = first
    end
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH_RESULT {"requests":%d,"duration_us":%d,"status_errors":%d,"socket_errors":%d,"rpc_errors":%d,"p50_us":%d,"p99_us":%d}\n',
    summary.requests, summary.duration, e.status, e.connect + e.read + e.write + e.timeout,
    failed, latency:percentile(50), latency:percentile(99)))
  if sample ~= "" then
    io.write("BENCH_FAILED_ANSWER " .. string.gsub(sample, "\n", " ") .. "\n")
  end
end
