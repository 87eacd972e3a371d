"""The v2 resources this service serves itself (locations, contacts), behind the token authorizer.

Shapes follow the platform's OpenAPI documents (copies in chalicelib/v2/data/, read by `schema`). Imported
only by the API handler: the authorizer never loads this package.
"""
