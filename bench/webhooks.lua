-- wrk script: POSTs pre-signed payment notifications (bench/webhooks-gen.mjs prepare) to the URL
-- given to wrk, each thread its own file BENCH_WEBHOOKS_DIR/thread-<n>.req, in file order, each
-- record once. Requests are formatted once at start-up, so wrk sends them as fast as it can.
--
-- When a thread has sent its whole file it stops (its connections close) and the run is
-- marked EXHAUSTED: too few notifications were prepared for the duration, and the figures are
-- not a steady rate. With BENCH_WEBHOOKS_CYCLE=1 (the nginx peer, which checks nothing) it
-- starts again from its first record instead. At the end every thread's count of requests sent is written to
-- BENCH_SENT_FILE ("<thread> <sent>" lines) for the checks that follow the run.
local dir = os.getenv("BENCH_WEBHOOKS_DIR") or "."
local sent_file = os.getenv("BENCH_SENT_FILE")
local cycle = os.getenv("BENCH_WEBHOOKS_CYCLE") == "1"

local threads = {}

function setup(thread)
    table.insert(threads, thread)
    thread:set("tid", #threads)
end

-- Thread state (tid, reqs, n, sent, exhausted are this thread's own globals).
reqs = {}
n = 0
sent = 0
exhausted = 0

local function load(file)
    local f = assert(io.open(file, "rb"))
    while true do
        local head = f:read("*l")
        if head == nil then
            break
        end
        local _, _, nh, blen = head:match("^(%d+) (%S+) (%d+) (%d+)$")
        assert(nh, "malformed record header in " .. file .. ": " .. head)
        local headers = {}
        for _ = 1, tonumber(nh) do
            local line = f:read("*l")
            local k, v = line:match("^([^:]+): (.*)$")
            headers[k] = v
        end
        local body = f:read(tonumber(blen))
        f:read(1) -- the newline after the body
        n = n + 1
        reqs[n] = wrk.format("POST", nil, headers, body)
    end
    f:close()
end

function init(args)
    if tid ~= nil then
        load(dir .. "/thread-" .. tid .. ".req")
    end
end

function request()
    if n == 0 then
        -- wrk's own check of the script in its main state, which has no records.
        return wrk.format("POST", nil, {["Content-Type"] = "application/json"}, "{}")
    end
    if sent >= n and cycle then
        sent = 0
    end
    if sent >= n then
        -- Nothing left: stop this thread. The request returned here is the last one again, a
        -- duplicate the server answers 200 without changing anything; the run is void anyway.
        exhausted = 1
        wrk.thread:stop()
        return reqs[n]
    end
    sent = sent + 1
    return reqs[sent]
end

function done(summary, latency, requests)
    local total, any_exhausted = 0, false
    local out = sent_file and assert(io.open(sent_file, "w"))
    for _, t in ipairs(threads) do
        local s = t:get("sent")
        total = total + s
        if t:get("exhausted") == 1 then
            any_exhausted = true
        end
        if out then
            out:write(string.format("%d %d\n", t:get("tid"), s))
        end
    end
    if out then
        out:close()
    end
    io.write(string.format("Notifications sent: %d\n", total))
    if any_exhausted then
        io.write("EXHAUSTED: a thread sent every notification prepared for it before the end\n")
    end
end
