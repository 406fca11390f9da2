-- wrk script: POST /orders with a fresh order each request (the service makes the id).
--   wrk -t2 -c128 -d15s -s scripts/wrk-place-order.lua http://127.0.0.1:8080/orders
-- The benchmark tool (bench/) supersedes this for reports; this is the quick check.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"customer_id":"cust-1","items":[{"product_id":"sku-1","quantity":2,"unit_price":"25.99"},'
  .. '{"product_id":"sku-2","quantity":1,"unit_price":"5.50"}],"shipping_address":"1 Main St"}'

local statuses = {}
response = function(status)
  statuses[status] = (statuses[status] or 0) + 1
end

done = function(summary, latency)
  io.write(string.format("latency p50 %.1f ms, p99 %.1f ms, p99.9 %.1f ms\n",
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency:percentile(99.9) / 1000))
end
