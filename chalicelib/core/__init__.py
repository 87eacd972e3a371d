"""Shared foundations, no HTTP: `config.settings` (one Settings from the environment), `clock` (the one
seam for time), `db` (transactions, conditions, retries, `Unavailable`), `errors` (the domain's kinds
of error), `vocabulary` (owner types, token states), `model_base` (table naming), `paging`, `emf`
(standard-library metric lines) and `handler_metrics` (Powertools, API handler and cleanup)."""
