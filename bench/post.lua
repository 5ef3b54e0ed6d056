-- wrk script for bench/run.sh: POSTs one request body (a serialized
-- ToFunction) over keep-alive connections and prints a parseable summary.
--
--   wrk -s bench/post.lua http://127.0.0.1:PORT/statefun -- BODYFILE
--
-- The body is sent byte for byte (binary-safe), with the headers the
-- StateFun runtime's async (Netty) transport sends.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/octet-stream"
wrk.headers["Accept"] = "application/octet-stream"
wrk.headers["Connection"] = "keep-alive"
wrk.headers["User-Agent"] = "statefun"

local function slurp(path)
  local f = assert(io.open(path, "rb"), "cannot open body file " .. tostring(path))
  local data = f:read("*a")
  f:close()
  return data
end

-- init runs in every thread before wrk builds its (static) request.
function init(args)
  if not args[1] then
    error("usage: wrk -s post.lua URL -- BODYFILE")
  end
  wrk.body = slurp(args[1])
end

-- One line, key=value, for run.sh. Latencies in microseconds.
-- errors: non-2xx/3xx statuses (wrk counts status > 399) plus socket
-- errors and timeouts.
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "BENCH requests=%d duration_us=%d bytes=%d rps=%.2f "
    .. "p50_us=%d p90_us=%d p99_us=%d p999_us=%d max_us=%d mean_us=%.1f "
    .. "err_status=%d err_connect=%d err_read=%d err_write=%d err_timeout=%d\n",
    summary.requests, summary.duration, summary.bytes,
    summary.requests / (summary.duration / 1e6),
    latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency:percentile(99.9),
    latency.max, latency.mean,
    e.status, e.connect, e.read, e.write, e.timeout))
end
