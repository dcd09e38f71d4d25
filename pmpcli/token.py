"""``pmp-gateway token``: get an access token from a running gateway with a client's key file, as an EHR would
(SMART Backend Services: a signed RS384 client assertion, ``client_credentials``). For the demo client and for
operators' smoke checks; real EHRs use their own OAuth library.

The key file is JSON: ``{"client_id": …, "key": <private JWK>, "scope": …}`` (``serve`` writes one for the demo
client at ``<data_dir>/demo/client.json``).
"""

from __future__ import annotations

import json
import sys
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from gateway.auth.client_key import ClientKey, token_form


def token(client_file: Path, url: str, scope: str | None) -> int:
    try:
        saved = json.loads(client_file.read_text())
        key = ClientKey.from_private_jwk(saved["key"])
        client_id = str(saved["client_id"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        print(f"pmp-gateway token: cannot read the client file: {type(exc).__name__}", file=sys.stderr)
        return 2
    if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
        print("pmp-gateway token: --url must be an http(s) URL", file=sys.stderr)
        return 2
    token_url = f"{url.rstrip('/')}/oauth/token"
    form = token_form(key.assertion(client_id, token_url), scope or str(saved.get("scope", "")))
    body = urllib.parse.urlencode(form).encode()
    request = urllib.request.Request(token_url, data=body)  # noqa: S310 - scheme checked above
    try:
        with urllib.request.urlopen(request, timeout=10) as reply:  # noqa: S310 - scheme checked above
            sys.stdout.write(reply.read().decode() + "\n")
            return 0
    except urllib.error.HTTPError as exc:
        print(f"pmp-gateway token: refused ({exc.code}): {exc.read().decode(errors='replace')[:300]}", file=sys.stderr)
    except (urllib.error.URLError, OSError) as exc:
        print(f"pmp-gateway token: cannot reach {token_url}: {exc}", file=sys.stderr)
    return 1
