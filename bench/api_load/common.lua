-- Shared by the endpoint scripts of bench/api_load.py (wrk 4.x, LuaJIT).
--
-- Environment (set by api_load.py):
--   APILOAD_PATHS  file with one request path per line (already shuffled by the bench)
--   APILOAD_TOKEN  API token (Authorization: Bearer …)
--   APILOAD_UNIQUE "1": each path is sent once across all threads (actions: every
--                  request changes a different contract); a thread that runs out starts
--                  over (the repeats answer 409) and is reported in "threads_ran_out"
--   APILOAD_THREADS wrk's -t (each thread takes the lines i with i % threads == its
--                  index, so with APILOAD_UNIQUE no two requests share a path)
-- 2xx and other answers are counted per thread; done() prints one JSON line with them
-- and wrk's latency percentiles (microseconds).

local M = {}

local threads = {}
local counter = 1

function M.install(method)
  function setup(thread)
    thread:set("tid", counter - 1)
    counter = counter + 1
    table.insert(threads, thread)
  end

  function init(args)
    nthreads = tonumber(os.getenv("APILOAD_THREADS") or "1")
    unique = os.getenv("APILOAD_UNIQUE") == "1"
    paths = {}
    local n = 0
    for line in io.lines(os.getenv("APILOAD_PATHS")) do
      if n % nthreads == tid then
        paths[#paths + 1] = line
      end
      n = n + 1
    end
    next_index = 1
    ok, bad, bad_codes, exhausted = 0, 0, "", 0
    local token = os.getenv("APILOAD_TOKEN")
    headers = {["Authorization"] = "Bearer " .. token, ["Accept"] = "application/json"}
    if method == "POST" then
      headers["Content-Type"] = "application/json"
    end
  end

  function request()
    if next_index > #paths then
      -- out of paths: an action repeats one (a 4xx the bench reports as "ran out")
      if unique then exhausted = 1 end
      next_index = 1
    end
    local path = paths[next_index]
    next_index = next_index + 1
    return wrk.format(method, path, headers, method == "POST" and "{}" or nil)
  end

  function response(status, hdrs, body)
    if status >= 200 and status < 300 then
      ok = ok + 1
    else
      bad = bad + 1
      if not string.find(bad_codes, tostring(status), 1, true) then
        bad_codes = bad_codes .. tostring(status) .. " "
      end
    end
  end

  function done(summary, latency, requests)
    local ok_total, bad_total, codes, ran_out = 0, 0, "", 0
    for _, thread in ipairs(threads) do
      ok_total = ok_total + thread:get("ok")
      bad_total = bad_total + thread:get("bad")
      codes = codes .. thread:get("bad_codes")
      ran_out = ran_out + thread:get("exhausted")
    end
    local e = summary.errors
    io.write(string.format(
      '{"requests": %d, "duration_us": %d, "bytes": %d, "ok": %d, "non2xx": %d, "non2xx_codes": "%s", ' ..
      '"errors": {"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}, ' ..
      '"latency_us": {"mean": %.1f, "p50": %d, "p90": %d, "p99": %d, "p999": %d, "max": %d}, ' ..
      '"threads_ran_out": %d}\n',
      summary.requests, summary.duration, summary.bytes, ok_total, bad_total, codes,
      e.connect, e.read, e.write, e.status, e.timeout,
      latency.mean, latency:percentile(50), latency:percentile(90), latency:percentile(99),
      latency:percentile(99.9), latency.max, ran_out))
  end
end

return M
