"""OAuth 2.0 for EDS clients (SMART Backend Services): the authorization server and access-token verification.

Modules, one job each:

- ``clients``    — ``RegisteredClient`` and the ``ClientDirectory`` protocol the registry implements; secret hashing.
- ``scopes``     — the scope vocabulary, the grant rule and the route → scope table.
- ``keys``       — the gateway's signing keys under ``<data_dir>/keys/oauth`` (rotation by ``kid``).
- ``jwks``       — fetching and caching a client's JWK Set from its registered URL.
- ``assertion``  — the SMART ``private_key_jwt`` client assertion (authlib RFC 7523 + SMART's extra rules).
- ``replay``     — assertion ``jti`` replay stores (memory, Redis).
- ``revocation`` — revoked access-token stores (memory, Redis with a local copy).
- ``tokens``     — issuing RFC 9068 JWT access tokens and verifying them behind a cache.
- ``service``    — the token, introspection and revocation endpoints and discovery documents (authlib server glue).
- ``errors``     — the exception tree.

The HTTP routes are ``gateway.routes.oauth``; the pipeline stage is ``gateway.pipeline.authenticate``.
"""
