-- wrk script: POST /request round trips through the HTTP API, as the `rtt-http` benchmark makes
-- them, to cross-check that figure with a client that costs almost nothing (BENCHMARKS.md).
--
-- The devices must be online: keep `rtt-http`'s echoing devices connected in the background,
--   iotsocket-bench rtt-http --url http://127.0.0.1:8080 --gateway-port 50505 --devices 32 \
--       --callers 1 --rate 1 --seconds 30 &
-- then, with the central's key:
--   IOTS_CENTRAL_KEY=000102030405060708090a0b0c0d0e0f \
--       wrk -t1 -c32 -d10s -s Tools/wrk-request.lua http://127.0.0.1:8080/
local key = os.getenv("IOTS_CENTRAL_KEY") or "000102030405060708090a0b0c0d0e0f"
local devices = tonumber(os.getenv("IOTS_DEVICES") or "32")
wrk.method = "POST"
wrk.headers["Authorization"] = "Bearer " .. key
wrk.headers["Content-Type"] = "application/json"

local count = 0
request = function()
  count = count + 1
  local body = '{"UID":"rtt-http-' .. (count % devices) .. '","Timeout":5,"Format":"BINARY",'
    .. '"Payload":[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16]}'
  return wrk.format(nil, "/request", nil, body)
end

-- Any answer but 200 {"Code":0,...} is counted, so a run full of 160s does not pass for speed.
-- (Each wrk thread has its own Lua state: `failed` is read from every thread at the end.)
local threads = {}
setup = function(thread)
  table.insert(threads, thread)
end

failed = 0
response = function(status, headers, body)
  if status ~= 200 or not string.find(body, '"Code":0,', 1, true) then
    failed = failed + 1
  end
end

done = function(summary, latency, requests)
  local total = 0
  for _, thread in ipairs(threads) do
    total = total + (thread:get("failed") or 0)
  end
  io.write(string.format("calls not answered 0x00: %d of %d\n", total, summary.requests))
end
