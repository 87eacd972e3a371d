"""Rate limits counted across many Lambda containers without one DynamoDB write per request.

Public surface: `Limiter` (one per container: `limiter`), `Window`, `Decision` and its headers. What is
counted against which key (integration, location, agency) is the caller's business
(chalicelib/integrations/rate_limits.py); this package only counts. docs/rate-limits.md has the design
and its bound.
"""

from chalicelib.ratelimit.leases import Decision, Limiter, Window, burst_window, daily_window, limiter

__all__ = ["Decision", "Limiter", "Window", "burst_window", "daily_window", "limiter"]
