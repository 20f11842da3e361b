-- wrk script for scripts/load.sh: POSTs real Tencent webhook bodies,
-- rotating over the files given after `--`, each with the query string
-- Tencent sends (SdkAppid, CallbackCommand taken from the body, contenttype,
-- ClientIP, OptPlatform), over keep-alive connections.
--
--   wrk -t1 -c64 -d10s --latency -s scripts/webhook.lua http://127.0.0.1:18080/ \
--       -- SDKAPPID body1.json body2.json ...
--
-- At the end it prints one line for the script to read:
--   RESULT rps=... p50_us=... p99_us=... max_us=... requests=... non2xx=... errors=...

local requests = {}
local next_request = 0

function init(args)
  local app = args[1]
  for i = 2, #args do
    local file = assert(io.open(args[i], "rb"))
    local body = file:read("*a")
    file:close()
    local command = assert(body:match('"CallbackCommand"%s*:%s*"([^"]+)"'), args[i] .. ": no CallbackCommand")
    local path = wrk.path .. "?SdkAppid=" .. app .. "&CallbackCommand=" .. command
      .. "&contenttype=json&ClientIP=127.0.0.1&OptPlatform=RESTAPI"
    requests[#requests + 1] = wrk.format("POST", path, { ["Content-Type"] = "application/json" }, body)
  end
  assert(#requests > 0, "no bodies given")
  -- Threads start at different bodies, so the mix is the same at any -t.
  next_request = math.random(#requests) - 1
end

function request()
  next_request = next_request % #requests + 1
  return requests[next_request]
end

function done(summary, latency, requests)
  local errors = summary.errors
  io.write(string.format(
    "RESULT rps=%.0f p50_us=%d p99_us=%d max_us=%d requests=%d non2xx=%d errors=%d\n",
    summary.requests / (summary.duration / 1e6),
    latency:percentile(50), latency:percentile(99), latency.max,
    summary.requests, errors.status, errors.connect + errors.read + errors.write + errors.timeout))
end
