-- wrk script: POST /api/v1/embed/tokens with an embed key, for a host app's user with a
-- row-level-security role, as a host app's backend asks.
wrk.method = "POST"
wrk.headers["X-API-Key"] = os.getenv("VITRINE_KEY")
wrk.headers["Content-Type"] = "application/json"
wrk.body = string.format(
  '{"reports":["%s"],"identity":{"id":"cust-42","name":"Customer 42","roles":["Own region"],"attributes":{"region":"North"}}}',
  os.getenv("VITRINE_REPORT"))

done = function(summary, latency, requests)
  io.write(string.format("non-2xx answers: %d\n", summary.errors.status))
end
