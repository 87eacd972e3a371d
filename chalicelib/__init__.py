"""What ships to Lambda with app.py: one package per capability, layers that only point down
(tests/unit/test_layers.py): core < tokens, audit, ratelimit < directory < integrations, v2 < scanning
< http. Each package's docstring names its public surface; modules import each other's public names
only. Nothing here imports `local` (never shipped) and only `http` knows Chalice."""
