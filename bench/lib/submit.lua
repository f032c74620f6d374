-- bench/lib/submit.lua - wrk script for B2: every request is a durable text-to-video submit.
-- The key comes from the environment (VG_KEY); the prompt carries a per-thread counter so that
-- no two bodies are the same (no request is an idempotent replay: none sends Idempotency-Key).
local counter = 0
local key = os.getenv("VG_KEY")

function setup(thread)
    counter = counter + 1
    thread:set("tid", counter)
end

function init(args)
    n = 0
end

function request()
    n = n + 1
    local body = string.format('{"model":"doubao-seedance-2-0-fast","prompt":"bench submit %d-%d",' ..
        '"seconds":"4","metadata":{"resolution":"480p"}}', tid, n)
    return wrk.format("POST", "/v1/video/generations",
        {["Authorization"] = "Bearer " .. key, ["Content-Type"] = "application/json"}, body)
end
