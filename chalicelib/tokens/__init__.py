"""Tokens and the authorizer. Public surface: `token_text` (format, checksum, digest, hint),
`models.TokenModel` (the item the authorizer reads), `issuing.new_token_item` / `issuing.scope_actions`
(a token item with its policy planned), `catalog` (scopes -> routes), `policy` (planning),
`stored_policy` (the stored form), `authorizer.authorize` and `entry.handler` (the deployed Lambda),
`authorizer_cache.flush`, `context.TokenContext`, `replan.replan`, `allowlist` (IP allowlist entries:
normalise, pack; `issuing.allowlist_actions`) and `address_match` (the authorizer's matcher).

Kept free of imports: the authorizer's cold start imports this package."""
