-- wrk script for bench/harness/load.py: optional method, body, cookie and Authorization header
-- from the environment,
-- and a one-line JSON summary on stdout at the end (parsed by the harness, not read by people).
local method = os.getenv("WRK_METHOD")
local body = os.getenv("WRK_BODY")
local cookie = os.getenv("WRK_COOKIE")
local authorization = os.getenv("WRK_AUTHORIZATION")
if method and method ~= "" then wrk.method = method end
if body and body ~= "" then
  wrk.body = body
  wrk.headers["Content-Type"] = "application/json"
end
if cookie and cookie ~= "" then wrk.headers["Cookie"] = cookie end
if authorization and authorization ~= "" then wrk.headers["Authorization"] = authorization end
wrk.headers["Accept"] = "application/json"
-- The same User-Agent as the harness's own login: Flask-Login's session protection compares it.
wrk.headers["User-Agent"] = "async-flask-service-bench"

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"requests": %d, "duration_us": %d, "connect": %d, "read": %d, "write": %d, ' ..
    '"status": %d, "timeout": %d, "p50_us": %d, "p90_us": %d, "p99_us": %d, "max_us": %d}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
