-- wrk script: every request asks for a random path from a list file (one URL path per line).
--   wrk -t1 -c64 -d10s -s random-segments.lua http://127.0.0.1:PORT -- /path/to/segments.list
-- A one-line list gives a fixed path (the playlist scenario). `done` prints one machine-readable
-- line, `BENCH_JSON {...}`, which run.sh collects; wrk's own report is printed as usual.

local requests = {}
local counter = 0

function setup(thread)
  counter = counter + 1
  thread:set("thread_id", counter)
end

function init(args)
  local list = args[1] or os.getenv("SEGMENT_LIST")
  if list == nil then
    error("random-segments.lua: pass the list file after --")
  end
  for line in io.lines(list) do
    if line ~= "" then
      -- Pre-format every request once; request() then only picks one.
      requests[#requests + 1] = wrk.format("GET", line)
    end
  end
  if #requests == 0 then
    error("random-segments.lua: empty list " .. list)
  end
  math.randomseed(os.time() * 1000 + (thread_id or 0))
end

function request()
  return requests[math.random(#requests)]
end

function done(summary, latency, _)
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"durationUs":%d,"requests":%d,"bytes":%d,' ..
    '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
    '"latencyUs":{"mean":%.1f,"stdev":%.1f,"max":%d,"p50":%d,"p90":%d,"p99":%d}}\n',
    summary.duration, summary.requests, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency.mean, latency.stdev, latency.max,
    latency:percentile(50), latency:percentile(90), latency:percentile(99)))
end
