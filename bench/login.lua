-- wrk script: POST /api/v1/auth/login for the account bench/run.sh registered, whose email
-- and password come from the BENCH_EMAIL and BENCH_PASSWORD environment variables.
-- The password is argon2id-hashed on Tollgate's blocking pool, which bounds this rate.
local email = os.getenv("BENCH_EMAIL") or ""
local password = os.getenv("BENCH_PASSWORD") or ""
wrk.method = "POST"
wrk.path = "/api/v1/auth/login"
wrk.headers["Content-Type"] = "application/json"
wrk.body = string.format('{"email":"%s","password":"%s"}', email, password)
