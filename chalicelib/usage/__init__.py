"""Usage per integration, counted at the gateway (issue 27).

access_log.py   the API's access-log format (one definition: the deployed stage and `make run` write it),
                and what one line says about a request (its integration, token role, outcome)
models.py       the usage table: per-integration hourly counters and the last use per token role
aggregator.py   access-log lines -> counters (deployed: the access log's Firehose processor)
report.py       GET /private-integrations/{id}/usage: buckets, totals, last use
"""
