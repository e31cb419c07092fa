"""Flask's JSON provider, with one more malformed body answered 400 instead of 500.

Werkzeug's ``Request.get_json`` turns a ``ValueError`` from the decoder into a 400, but a body
nested deeper than Python's recursion limit (``[[[[...]]]]``, a few kilobytes) makes the decoder
raise ``RecursionError``, which escapes as a 500. Here it is a ``ValueError`` like any other
malformed body.
"""

from __future__ import annotations

from typing import Any

from flask.json.provider import DefaultJSONProvider


class JSONProvider(DefaultJSONProvider):
    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        try:
            return super().loads(s, **kwargs)
        except RecursionError:
            raise ValueError("The JSON body is nested too deeply.") from None
