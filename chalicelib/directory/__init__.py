"""Agencies, locations and users as the platform gives them. Public surface: `accounts` (lookups),
`sessions.authenticate` / `sessions.mint`, `permissions` (who may manage what), `flags` (per-user
permission flags and the agency's Labs switch), `models`."""
