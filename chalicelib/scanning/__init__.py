"""GitHub's secret-scanning partner program: a report of tokens found in public (`reports`), verified
against GitHub's published keys (`keys`); every live token it names is revoked at once.

Public surface: `keys.configured`, `keys.verify`, `reports.parse_report`, `reports.report`.
"""
