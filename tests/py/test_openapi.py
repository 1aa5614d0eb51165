#!/usr/bin/python3
"""test_openapi.py - proto/openapi.yaml is a consistent OpenAPI 3.0.3 document of docs/api.md.

Offline: reads the two files only (the server integration test fetches GET /openapi.yaml).
Checks that
  - the YAML parses, is OpenAPI 3.0.3, and every $ref resolves (and every component is used);
  - the routes of docs/api.md (its `### \\`GET /...\\`` headings and the OIP list) are exactly the
    documented paths, with the same methods; templated path parameters are declared;
  - the error codes of docs/api.md (its table, and codes named after a status elsewhere) are
    exactly the ErrorCode enum;
  - every response carries X-Request-Id; 405 carries Allow, 401 WWW-Authenticate, 429 and the
    queue-full 503s Retry-After; /v2 errors use the OIP shape, the rest the drl shape; routes
    with a body document 400/411/413/422 (and 415 unless they take any media type);
  - the admin routes (reload, and every route of an "admin" section) and only they require the
    bearer scheme and document 401 and 403;
  - every JSON example (media types, parameters, headers, schemas) validates against its schema,
    by a small OpenAPI-3.0 schema checker below (no jsonschema dependency).
Exits 77 (skipped) when PyYAML is missing."""
import base64
import os
import re
import sys

NAME = "test_openapi"

try:
    import yaml
except ImportError:
    print(f"{NAME}: PyYAML not installed, skipping")
    sys.exit(77)

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.environ.get("DRL_SOURCE_DIR") or os.path.normpath(os.path.join(HERE, "..", ".."))
METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
# Routes that take a request body (docs/api.md); the others are bodiless.
BODY_ROUTES = {("POST", p) for p in ("/v1/models/reload", "/v1/encode", "/v1/trajectory", "/v1/sample",
                                     "/v2/models/{name}/infer", "/v1/datasets", "/v1/train/jobs")}

passed = failed = 0


def check(cond, what):
    global passed, failed
    if cond:
        passed += 1
    else:
        failed += 1
        print(f"FAIL: {what}")
    return cond


# ---- $ref resolution ---------------------------------------------------------------------------
def pointer(doc, ref):
    """Resolves a local JSON pointer '#/a/b'; raises KeyError when it does not."""
    if not ref.startswith("#/"):
        raise KeyError(f"{ref}: only local references are used here")
    node = doc
    for part in ref[2:].split("/"):
        part = part.replace("~1", "/").replace("~0", "~")
        if isinstance(node, list):
            node = node[int(part)]
        elif isinstance(node, dict) and part in node:
            node = node[part]
        else:
            raise KeyError(ref)
    return node


def all_refs(node, where="#"):
    if isinstance(node, dict):
        for k, v in node.items():
            if k == "$ref" and isinstance(v, str):
                yield where, v
            else:
                yield from all_refs(v, f"{where}/{k}")
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from all_refs(v, f"{where}/{i}")


def deref(doc, node):
    seen = 0
    while isinstance(node, dict) and "$ref" in node:
        node = pointer(doc, node["$ref"])
        seen += 1
        if seen > 32:
            raise KeyError("reference cycle")
    return node


# ---- a small OpenAPI 3.0 schema checker --------------------------------------------------------
DATE_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$")


def is_type(v, t):
    if t == "object":
        return isinstance(v, dict)
    if t == "array":
        return isinstance(v, list)
    if t == "string":
        return isinstance(v, str)
    if t == "boolean":
        return isinstance(v, bool)
    if t == "integer":
        return isinstance(v, int) and not isinstance(v, bool)
    if t == "number":
        return isinstance(v, (int, float)) and not isinstance(v, bool)
    raise ValueError(f"unknown type {t}")


def validate(doc, schema, v, path="$"):
    """Returns a list of error strings (empty when v matches schema)."""
    schema = deref(doc, schema)
    if v is None:
        return [] if schema.get("nullable") else [f"{path}: null not allowed"]
    errs = []
    t = schema.get("type")
    if t and not is_type(v, t):
        return [f"{path}: expected {t}, got {type(v).__name__} {v!r:.60}"]
    if "enum" in schema and v not in schema["enum"]:
        errs.append(f"{path}: {v!r} not in {schema['enum']}")
    for sub in schema.get("allOf", []):
        errs += validate(doc, sub, v, path)
    if "oneOf" in schema:
        n = sum(not validate(doc, sub, v, path) for sub in schema["oneOf"])
        if n != 1:
            errs.append(f"{path}: matches {n} of the oneOf alternatives, not exactly 1")
    if "anyOf" in schema and not any(not validate(doc, s, v, path) for s in schema["anyOf"]):
        errs.append(f"{path}: matches none of anyOf")
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        if "minimum" in schema:
            lo = schema["minimum"]
            if v < lo or (schema.get("exclusiveMinimum") and v == lo):
                errs.append(f"{path}: {v} below minimum {lo}")
        if "maximum" in schema:
            hi = schema["maximum"]
            if v > hi or (schema.get("exclusiveMaximum") and v == hi):
                errs.append(f"{path}: {v} above maximum {hi}")
    if isinstance(v, str):
        if "pattern" in schema and not re.search(schema["pattern"], v):
            errs.append(f"{path}: {v!r:.60} does not match {schema['pattern']}")
        if len(v) < schema.get("minLength", 0) or len(v) > schema.get("maxLength", len(v)):
            errs.append(f"{path}: length {len(v)} out of range")
        fmt = schema.get("format")
        if fmt == "byte":
            try:
                base64.b64decode(v, validate=True)
            except ValueError:
                errs.append(f"{path}: not base64")
        elif fmt == "date-time" and not DATE_TIME.match(v):
            errs.append(f"{path}: {v!r} is not an RFC 3339 date-time")
    if isinstance(v, list):
        if len(v) < schema.get("minItems", 0) or len(v) > schema.get("maxItems", len(v)):
            errs.append(f"{path}: {len(v)} items out of range")
        if "items" in schema:
            for i, item in enumerate(v):
                errs += validate(doc, schema["items"], item, f"{path}[{i}]")
    if isinstance(v, dict):
        props = schema.get("properties", {})
        for k in schema.get("required", []):
            if k not in v:
                errs.append(f"{path}: missing required {k!r}")
        extra = schema.get("additionalProperties", True)
        for k, item in v.items():
            if k in props:
                errs += validate(doc, props[k], item, f"{path}.{k}")
            elif extra is False:
                errs.append(f"{path}: unexpected property {k!r}")
            elif isinstance(extra, dict):
                errs += validate(doc, extra, item, f"{path}.{k}")
    return errs


# ---- docs/api.md ---------------------------------------------------------------------------------
def doc_routes(md):
    """{(METHOD, path): is_admin} from the sections from "## Routes" on: `### `GET /x`` headings
    and `- `GET /x`` list items (the OIP subset lists several on one line). A route is admin when
    its heading or its "## " section title says so."""
    routes = {}
    section_admin = False
    for line in md.split("\n## Routes", 1)[1].splitlines():
        if line.startswith("## "):
            section_admin = "admin" in line.lower()
        if not (line.startswith("### ") or line.startswith("- ")):
            continue
        for method, path in re.findall(r"`(GET|POST|PUT|DELETE|PATCH|HEAD|OPTIONS) (/[^`\s]*)`", line):
            routes[(method, path)] = section_admin or ("admin" in line.lower() and line.startswith("### "))
    return routes


def doc_error_codes(md):
    """Codes in the second column of the Errors table (| 4xx | `code` [/ `code`] | when |) and
    codes named right after a status anywhere else ("answer 503 `training_disabled`")."""
    codes = set()
    for line in md.splitlines():
        m = re.match(r"\|\s*(\d{3})\s*\|([^|]*)\|", line)
        if m:
            codes.update(re.findall(r"`([a-z0-9_]+)`", m.group(2)))
    codes.update(re.findall(r"\b[45]\d\d `([a-z][a-z0-9_]*)`", md))
    return codes


# ---- checks ------------------------------------------------------------------------------------
def check_refs(doc):
    refs = list(all_refs(doc))
    bad = []
    for where, ref in refs:
        try:
            pointer(doc, ref)
        except (KeyError, IndexError, ValueError) as e:
            bad.append(f"{where}: {ref} ({e})")
    if not check(not bad, "every $ref resolves" + "".join(f"\n  {b}" for b in bad)):
        return False
    used = {ref for _, ref in refs}
    for kind in ("schemas", "responses", "parameters", "headers", "securitySchemes"):
        for name in doc.get("components", {}).get(kind, {}):
            if kind == "securitySchemes":
                continue
            check(f"#/components/{kind}/{name}" in used, f"components/{kind}/{name} is referenced")
    for name, schema in doc["components"]["schemas"].items():
        props = schema.get("properties", {})
        for r in schema.get("required", []):
            check(r in props, f"schema {name}: required {r!r} is a declared property")
    return True


def operations(doc):
    for path, item in doc["paths"].items():
        for method in METHODS:
            if method in item:
                yield path, method, item, item[method]


def check_routes(doc, routes):
    documented = {(m.upper(), p) for p, m, _, _ in operations(doc)}
    for r in sorted(routes):
        check(r in documented, f"{r[0]} {r[1]} (docs/api.md) is in openapi.yaml")
    for r in sorted(documented - set(routes)):
        check(False, f"{r[0]} {r[1]} is in openapi.yaml but not in docs/api.md")
    check(len(routes) >= 15, f"found the routes in docs/api.md ({len(routes)})")
    ids = [op.get("operationId") for _, _, _, op in operations(doc)]
    check(None not in ids and len(ids) == len(set(ids)), "operationIds are present and unique")
    for path, method, item, op in operations(doc):
        params = [deref(doc, p) for p in item.get("parameters", []) + op.get("parameters", [])]
        for name in re.findall(r"\{(\w+)\}", path):
            check(any(p.get("in") == "path" and p.get("name") == name and p.get("required")
                      for p in params), f"{method.upper()} {path}: path parameter {name} declared")
        check(any(p.get("in") == "header" and p.get("name") == "X-Request-Id" for p in params),
              f"{method.upper()} {path}: accepts an X-Request-Id header")
        if (method.upper(), path) in BODY_ROUTES:
            check("requestBody" in op, f"{method.upper()} {path}: has a requestBody")


def check_responses(doc, routes):
    for path, method, _, op in operations(doc):
        what = f"{method.upper()} {path}"
        resps = op.get("responses", {})
        check(any(s.startswith("2") for s in resps), f"{what}: documents a 2xx response")
        check("405" in resps, f"{what}: documents 405")
        for status, r in resps.items():
            r = deref(doc, r)
            headers = r.get("headers", {})
            check("X-Request-Id" in headers, f"{what} {status}: carries X-Request-Id")
            if status == "405":
                check("Allow" in headers, f"{what} 405: carries Allow")
            if status == "401":
                check("WWW-Authenticate" in headers, f"{what} 401: carries WWW-Authenticate")
            ref = op["responses"][status].get("$ref", "")
            if status == "429" or ref.endswith("Overloaded"):
                check("Retry-After" in headers, f"{what} {status}: carries Retry-After")
            if status[0] in "45":
                schema = r.get("content", {}).get("application/json", {}).get("schema", {})
                ref = schema.get("$ref", "")
                if path.startswith("/v2"):
                    want = ("#/components/schemas/OipReady" if path == "/v2/health/ready"
                            and status == "503" else "#/components/schemas/OipError")
                else:
                    want = "#/components/schemas/Error"
                check(ref == want, f"{what} {status}: body schema {ref or '(none)'} is {want}")
        body = op.get("requestBody", {}).get("content", {})
        if body:
            for status in ("400", "411", "413", "422"):
                check(status in resps, f"{what}: takes a body, documents {status}")
        if body and "*/*" not in body:
            check("415" in resps, f"{what}: takes typed bodies, documents 415")
        if path in ("/v1/encode", "/v1/trajectory", "/v2/models/{name}/infer"):
            check(op["responses"].get("503", {}).get("$ref", "").endswith("Overloaded"),
                  f"{what}: 503 is the encode queue's overloaded")
        if path.startswith("/v1/datasets") or path.startswith("/v1/train/"):
            check(op["responses"].get("503", {}).get("$ref", "") == "#/components/responses/TrainingDisabled",
                  f"{what}: 503 training_disabled")
        admin = routes.get((method.upper(), path), False)
        sec = op.get("security", doc.get("security", []))
        if admin:
            check(sec == [{"bearerAuth": []}], f"{what}: admin route requires bearerAuth")
            check("401" in resps and "403" in resps, f"{what}: admin route documents 401 and 403")
        else:
            check(not sec, f"{what}: not an admin route, no security requirement")
    scheme = doc["components"]["securitySchemes"].get("bearerAuth", {})
    check(scheme.get("type") == "http" and scheme.get("scheme") == "bearer",
          "bearerAuth is an HTTP bearer scheme")
    enc = doc["paths"]["/v1/encode"]["post"]["requestBody"]["content"]
    check({"image/png", "application/json"} <= set(enc), "/v1/encode takes image/png and JSON")
    smp = doc["paths"]["/v1/sample"]["post"]["responses"]["200"]["content"]
    check({"image/png", "application/json"} <= set(smp), "/v1/sample answers JSON or image/png")
    oa = doc["paths"]["/openapi.yaml"]["get"]["responses"]["200"]["content"]
    check("application/yaml" in oa, "/openapi.yaml is served as application/yaml")


def examples_of(doc):
    """(where, schema, value) for every example attached to a schema-bearing object."""
    def media(where, mt, obj):
        if not mt.endswith("json") or "schema" not in obj:
            return
        if "example" in obj:
            yield where, obj["schema"], obj["example"]
        for k, ex in obj.get("examples", {}).items():
            ex = deref(doc, ex)
            if check("value" in ex, f"{where} example {k}: has a value"):
                yield f"{where} example {k}", obj["schema"], ex["value"]

    for path, method, item, op in operations(doc):
        what = f"{method.upper()} {path}"
        for mt, obj in op.get("requestBody", {}).get("content", {}).items():
            yield from media(f"{what} request {mt}", mt, obj)
        for status, r in op.get("responses", {}).items():
            for mt, obj in deref(doc, r).get("content", {}).items():
                yield from media(f"{what} {status} {mt}", mt, obj)
    comps = doc["components"]
    for kind in ("parameters", "headers"):
        for name, p in comps.get(kind, {}).items():
            if "example" in p:
                yield f"components/{kind}/{name}", p["schema"], p["example"]
    for name, s in comps["schemas"].items():
        if "example" in s:
            yield f"components/schemas/{name}", s, s["example"]


def check_examples(doc):
    n = 0
    for where, schema, value in examples_of(doc):
        errs = validate(doc, schema, value)
        check(not errs, f"{where}: example matches its schema" + "".join(f"\n  {e}" for e in errs[:5]))
        n += 1
    check(n >= 30, f"examples found ({n})")
    # The checker itself must reject what it should.
    err = {"$ref": "#/components/schemas/Error"}
    check(validate(doc, err, {"error": {"code": "nope", "message": "x"}}), "checker rejects a bad enum")
    check(validate(doc, err, {"error": "x"}), "checker rejects the OIP shape as Error")
    img = {"$ref": "#/components/schemas/Image"}
    check(validate(doc, img, {"png": "AAAA", "pixels": [0], "width": 1, "height": 1, "channels": 1}),
          "checker rejects an image matching both oneOf alternatives")
    check(not validate(doc, {"$ref": "#/components/schemas/OipNested"}, [[1.0, [2]], 3]),
          "checker accepts nested FP32 data")


def main():
    spec_path = os.path.join(SRC, "proto", "openapi.yaml")
    md_path = os.path.join(SRC, "docs", "api.md")
    with open(md_path, encoding="utf-8") as f:
        md = f.read()
    with open(spec_path, encoding="utf-8") as f:
        doc = yaml.safe_load(f)
    check(doc.get("openapi") == "3.0.3", "openapi: 3.0.3")
    check(bool(doc.get("info", {}).get("title")) and bool(doc["info"].get("version")),
          "info has a title and version")
    if not check_refs(doc):  # the other checks follow references
        print(f"{NAME}: {passed} passed, {failed} failed")
        return 1
    routes = doc_routes(md)
    check_routes(doc, routes)
    enum = set(doc["components"]["schemas"]["ErrorCode"]["enum"])
    codes = doc_error_codes(md)
    check(len(codes) >= 15 and codes == enum,
          f"ErrorCode enum equals docs/api.md's table (only in docs: {sorted(codes - enum)}, "
          f"only in yaml: {sorted(enum - codes)})")
    check_responses(doc, routes)
    check_examples(doc)
    print(f"{NAME}: {passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
