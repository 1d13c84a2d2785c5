-- SPDX-License-Identifier: Apache-2.0
-- wrk -s bench/lib/wrk_json.lua: after wrk's own summary, one line of JSON with what
-- bench/lib/pod_to_pod.sh keeps (latency percentiles from wrk's histogram, in µs).
done = function(summary, latency, requests)
	local e = summary.errors
	io.write(string.format(
		'{"requests":%d,"seconds":%.6f,"bytes":%d,"p50_us":%d,"p99_us":%d,"mean_us":%.1f,' ..
		'"max_us":%d,"errors":%d,"socket_errors":{"connect":%d,"read":%d,"write":%d,' ..
		'"timeout":%d},"non_2xx_3xx":%d}\n',
		summary.requests, summary.duration / 1e6, summary.bytes,
		latency:percentile(50), latency:percentile(99), latency.mean, latency.max,
		e.connect + e.read + e.write + e.timeout + e.status,
		e.connect, e.read, e.write, e.timeout, e.status))
end
