"""Private Integrations and their tokens' lifecycle. Public surface: `service` (create, edit,
delete), `lifecycle` (rotate, cancel, expire now), `access` (find what a caller may manage),
`views` (answers), `cleanup.run` (the scheduled job), `emergency.revoke_all`, `rate_limits.check`
(the v2 routes' and downstream APIs' limiter)."""
