"""What runs only on a developer's machine and in the tests, never in Lambda: the dev server, API
Gateway's and DynamoDB Streams' emulation, DynamoDB Local, the seed loader, table creation, IAM
evaluation, and the helpers tests, bench and scripts share. `make package` ships `chalicelib/` and
`app.py` only; tests/functional/test_infra.py checks that nothing of this package is in the zip."""
