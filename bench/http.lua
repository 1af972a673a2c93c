-- http.lua - wrk's script for bench/http.sh: each request to the next guest of a range, and the figures as one JSON line.
--
-- HTTP_FIRST and HTTP_COUNT (environment): the guests asked, each once per
-- HTTP_COUNT requests. A guest serves one request at a time (a second one
-- meanwhile is a 503), so requests in flight must go to different guests,
-- and a shard holds consecutive ids, so they should go to different
-- shards: the guests are taken STRIDE apart (a prime: every guest comes,
-- unless it divides the count), not in id order.
local first = tonumber(os.getenv("HTTP_FIRST") or "0")
local count = tonumber(os.getenv("HTTP_COUNT") or "1")
local path = os.getenv("HTTP_PATH") or "/ping"
local stride = (count % 7919 == 0) and 1 or 7919
local n = 0

request = function()
	local id = first + (n * stride) % count
	n = (n + 1) % count
	return wrk.format("GET", "/guests/" .. id .. path)
end

-- The keys bench/reqload --json prints, latencies in µs.
done = function(summary, latency, requests)
	local e = summary.errors
	local s = summary.duration / 1e6
	io.write(string.format('{"seconds":%.3f,"requests":%d,"errors":%d,"throughput":%.1f,' ..
		'"p50":%.1f,"p90":%.1f,"p99":%.1f,"p99.9":%.1f,"max":%.1f}\n',
		s, summary.requests, e.status + e.connect + e.read + e.write + e.timeout, summary.requests / s,
		latency:percentile(50), latency:percentile(90), latency:percentile(99), latency:percentile(99.9),
		latency.max))
end
