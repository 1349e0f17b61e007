"""Cut Twilio's OpenAPI description down to what Partnerline's SMS and voice adapters call.

Run from the project root with Twilio's full description (twilio_api_v2010.json, published in
the twilio/twilio-oai repository) saved somewhere as FULL.json:

    .venv/bin/python tests/data/twilio/extract_subset.py \
        FULL.json tests/data/twilio/twilio_api_v2010_subset.json

It keeps `openapi`, `info`, `servers` and `security`; of each path item below, the operations
Partnerline calls, with the path item's own fields and parameters; and each component those
reference, followed transitively, plus the security schemes. `examples` are dropped: they are
most of the size and validation never reads them.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

# path -> the operations on it that the adapters (or the stand-in's users) call
OPERATIONS = {
    "/2010-04-01/Accounts/{AccountSid}/Messages.json": ("post",),
    "/2010-04-01/Accounts/{AccountSid}/Messages/{Sid}.json": ("get",),
    "/2010-04-01/Accounts/{AccountSid}/Calls.json": ("post",),
}
HTTP_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}
TOP_LEVEL = ("openapi", "info", "servers", "security")


def _without_examples(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: _without_examples(v) for k, v in node.items() if k != "examples"}
    if isinstance(node, list):
        return [_without_examples(v) for v in node]
    return node


def _refs(node: Any) -> set[str]:
    found: set[str] = set()
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str):
            found.add(ref)
        for value in node.values():
            found |= _refs(value)
    elif isinstance(node, list):
        for value in node:
            found |= _refs(value)
    return found


def _resolve(spec: dict[str, Any], ref: str) -> Any:
    if not ref.startswith("#/"):
        raise ValueError(f"only local references are supported, got {ref!r}")
    node: Any = spec
    for part in ref[2:].split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def extract(spec: dict[str, Any]) -> dict[str, Any]:
    subset: dict[str, Any] = {key: spec[key] for key in TOP_LEVEL if key in spec}
    subset["paths"] = {}
    for path, methods in OPERATIONS.items():
        item = spec["paths"][path]
        kept = {k: v for k, v in item.items() if k not in HTTP_METHODS or k in methods}
        missing = set(methods) - kept.keys()
        if missing:
            raise KeyError(f"{path} has no {sorted(missing)} operation")
        subset["paths"][path] = _without_examples(kept)

    components: dict[str, dict[str, Any]] = {}
    # Every security scheme the kept operations name is a component too, though not a $ref.
    schemes = spec.get("components", {}).get("securitySchemes", {})
    if schemes:
        components["securitySchemes"] = dict(schemes)

    pending = _refs(subset["paths"])
    seen: set[str] = set()
    while pending:
        ref = pending.pop()
        if ref in seen:
            continue
        seen.add(ref)
        target = _without_examples(_resolve(spec, ref))
        root, section, name = ref[2:].split("/", 2)
        if root != "components":
            raise ValueError(f"unexpected reference outside components: {ref!r}")
        components.setdefault(section, {})[name] = target
        pending |= _refs(target) - seen
    subset["components"] = components
    return subset


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    source, target = Path(argv[1]), Path(argv[2])
    subset = extract(json.loads(source.read_text(encoding="utf-8")))
    target.write_text(json.dumps(subset, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    print(f"{target}: {target.stat().st_size} bytes, {len(subset['paths'])} paths")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
