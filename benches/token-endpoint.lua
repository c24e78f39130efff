-- wrk script: POST /api/v1/reports/{id}/token with a signed-in session (cookie + CSRF header).
wrk.method = "POST"
wrk.headers["Cookie"] = os.getenv("VITRINE_COOKIE")
wrk.headers["X-CSRF-Token"] = os.getenv("VITRINE_CSRF")
wrk.headers["Content-Type"] = "application/json"
wrk.body = "{}"

done = function(summary, latency, requests)
  io.write(string.format("non-2xx answers: %d\n", summary.errors.status))
end
