"""Routes by surface, each a Chalice blueprint registered by app.py."""
