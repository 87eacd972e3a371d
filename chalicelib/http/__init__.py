"""The only layer that knows HTTP: `web` (middleware, Version header, JSON bodies), `errors` (domain
errors -> SPEC's answers), `gateway_responses` (what API Gateway answers itself), `routes/` (one
module per surface: management, v2, secret scanning, the page)."""
