-- wrk script: GET /api/v1/credits with the bearer token from the BENCH_TOKEN environment
-- variable (set by bench/run.sh after it signs in).
local token = os.getenv("BENCH_TOKEN")
wrk.method = "GET"
wrk.path = "/api/v1/credits"
if token and token ~= "" then
    wrk.headers["Authorization"] = "Bearer " .. token
end
