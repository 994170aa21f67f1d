-- wrk script: POST /api/v1/admin/users/{id}/credits (the URL given to wrk) as the admin whose
-- access token is in BENCH_ADMIN_TOKEN. Deltas alternate +1 and -1 on the "paid" bucket, and
-- every request carries its own Idempotency-Key (BENCH_KEY_PREFIX, the thread's number and a
-- per-thread counter), so each one is a new durable write, never a replay of an earlier one.
-- bench/run.sh sets a new BENCH_KEY_PREFIX for every wrk run against the same database.
local token = os.getenv("BENCH_ADMIN_TOKEN") or ""
local prefix = os.getenv("BENCH_KEY_PREFIX") or tostring(os.time())
local plus = '{"delta":1,"bucket":"paid","reason":"bench +1"}'
local minus = '{"delta":-1,"bucket":"paid","reason":"bench -1"}'
local headers = {
    ["Content-Type"] = "application/json",
    ["Authorization"] = "Bearer " .. token,
}
local counter = 0
local threads = 0

-- Runs in wrk's main Lua state once per thread: gives each thread its number (the global
-- `tid` in that thread's own state).
function setup(thread)
    threads = threads + 1
    thread:set("tid", threads)
end

function request()
    counter = counter + 1
    -- wrk also calls request() once in its main state to check the script: no tid there.
    headers["Idempotency-Key"] = string.format("%s-%d-%d", prefix, tid or 0, counter)
    return wrk.format("POST", nil, headers, counter % 2 == 1 and plus or minus)
end
