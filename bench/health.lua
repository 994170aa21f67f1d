-- wrk script: a light GET /health probe run next to a heavy load, to measure how long that
-- load makes a cheap request wait. Each connection sends one request every
-- BENCH_PROBE_DELAY_MS milliseconds (10 by default; wrk does not count the pause in the
-- latency), so 2 connections add about 200 requests/s.
local ms = tonumber(os.getenv("BENCH_PROBE_DELAY_MS") or "10")

function delay()
    return ms
end
