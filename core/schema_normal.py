"""The one JSON Schema normaliser: what declarations, grammars and argument validation all read.

A tool's `parameters` may use local `$ref`s, `allOf`, OpenAPI's `nullable` and other spellings of one
constraint. `normalize_schema` writes them one way, so that what a model is shown (a FunctionGemma
declaration), what constrained decoding admits (runtime/grammar.py) and what validation accepts
(`ToolSpec.argument_errors`) are the same schema:

- local `$ref`s (`#/$defs/X`, `#/definitions/X`, any `#/...` JSON pointer, `#`) are replaced by what they
  point to, and `$defs`/`definitions` dropped; a reference that points back into itself (a recursive schema)
  is kept as a `$ref` at the second visit, with the definitions it needs kept beside it;
- `allOf` of object schemas is merged into one (properties and required lists united); any other `allOf`
  is kept as is;
- `nullable: true` (OpenAPI 3.0) becomes a `"null"` in `type` (and `None` in `enum`);
- keywords beside an object schema's `anyOf`/`oneOf` are merged into each alternative (the same instances
  pass), so every alternative is a whole schema;
- `enum`, `const`, type lists, nested objects and arrays are normalised inside and kept; property names are
  kept as written, whatever characters they hold.

The schema must already be valid (ToolSpec checks it with jsonschema). Raises ValueError for a `$ref` that is
not local or points nowhere. Written by hand because jsonschema and referencing resolve references for
validation but do not rewrite schemas, and llama-cpp-python's converter inlines only for its own grammars.
"""

from __future__ import annotations

from typing import Any

# The keywords whose values are schemas (a map of them, a list of them, or one): the normaliser and the
# FunctionGemma declaration writer (and its Jinja twin) recurse into exactly these.
SUBSCHEMA_MAPS = ("properties", "patternProperties", "dependentSchemas")
SUBSCHEMA_LISTS = ("anyOf", "oneOf", "allOf", "prefixItems")
SUBSCHEMAS = ("items", "additionalProperties", "not", "contains", "propertyNames", "if", "then", "else")
_DEFINITIONS = ("$defs", "definitions")


def _pointer(root: Any, ref: str) -> Any:
    if not ref.startswith("#"):
        raise ValueError(f"only local $refs ('#/...') can be normalised, not {ref[:100]!r}")
    node = root
    for raw in ref[1:].split("/")[1:]:
        part = raw.replace("~1", "/").replace("~0", "~")
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            raise ValueError(f"$ref {ref!r} points to nothing in the schema")
    return node


def _merge_all_of(parts: list[Any]) -> dict[str, Any] | None:
    """One object schema for `allOf` parts that are all object schemas, else None."""
    merged: dict[str, Any] = {}
    for part in parts:
        if not isinstance(part, dict) or part.get("type", "object") != "object" or "allOf" in part:
            return None
        if "additionalProperties" in part or "unevaluatedProperties" in part:
            return None  # inside allOf these limit only their own part's properties: merging would change that
        for key, value in part.items():
            if key == "properties":
                merged["properties"] = {**merged.get("properties", {}), **value}
            elif key == "required":
                merged["required"] = list(dict.fromkeys([*merged.get("required", []), *value]))
            elif key in merged and merged[key] != value:
                return None  # two parts disagree on a keyword: keep allOf as written
            else:
                merged[key] = value
    return merged


def _distribute(rest: dict[str, Any], alternative: Any) -> dict[str, Any] | None:
    """`rest` and one `anyOf`/`oneOf` alternative as one schema, or None when they do not merge.

    When only one side declares properties (an alternative that only adds `required`, or a `rest` that is
    only `type: object`), they merge even if that side limits `additionalProperties`: the properties and
    their limit stay together.
    """
    if not isinstance(alternative, dict):
        return None
    declares = [any(k in side for k in ("properties", "patternProperties")) for side in (rest, alternative)]
    if not all(declares):
        merged = dict(rest)
        for key, value in alternative.items():
            if key == "required":
                merged["required"] = list(dict.fromkeys([*merged.get("required", []), *value]))
            elif key in merged and merged[key] != value:
                return None
            else:
                merged[key] = value
        return merged
    return _merge_all_of([rest, alternative])


class _Normalizer:
    def __init__(self, root: Any, merge_all_of: bool) -> None:
        self.root = root
        self.merge_all_of = merge_all_of
        self.kept_refs: set[str] = set()

    def node(self, schema: Any, resolving: tuple[str, ...]) -> Any:
        if not isinstance(schema, dict):
            return schema
        ref = schema.get("$ref")
        if isinstance(ref, str) and ref not in resolving:
            target = self.node(_pointer(self.root, ref), (*resolving, ref))
            siblings = {k: v for k, v in schema.items() if k != "$ref"}
            if not siblings:
                return target
            return self._finish({"allOf": [target, self.node(siblings, resolving)]})
        if isinstance(ref, str):
            self.kept_refs.add(ref)  # a reference back into itself stays a reference
        out: dict[str, Any] = {}
        for key, value in schema.items():
            if key in _DEFINITIONS:
                continue
            if key in SUBSCHEMA_MAPS and isinstance(value, dict):
                out[key] = {name: self.node(sub, resolving) for name, sub in value.items()}
            elif key in SUBSCHEMA_LISTS and isinstance(value, list):
                out[key] = [self.node(sub, resolving) for sub in value]
            elif key in SUBSCHEMAS:
                out[key] = self.node(value, resolving)
            else:
                out[key] = value
        return self._finish(out)

    def _finish(self, out: dict[str, Any]) -> dict[str, Any]:
        if self.merge_all_of and isinstance(out.get("allOf"), list):
            merged = _merge_all_of(out["allOf"])
            if merged is not None:
                rest = {k: v for k, v in out.items() if k != "allOf"}
                combined = _merge_all_of([merged, rest]) if rest else merged
                if combined is not None:
                    out = combined
        for key in ("anyOf", "oneOf"):
            if self.merge_all_of and isinstance(out.get(key), list) and len(out) > 1:
                # {properties, oneOf: [{required: [a]}, ...]} -> oneOf: [{properties, required: [a]}, ...]:
                # the same instances pass, and each alternative is then a whole schema of its own.
                rest = {k: v for k, v in out.items() if k != key}
                alternatives = [_distribute(rest, alt) for alt in out[key]]
                if all(alt is not None for alt in alternatives):
                    out = {key: alternatives}
        if out.get("nullable") is True:
            del out["nullable"]
            kind = out.get("type")
            if isinstance(kind, str) and kind != "null":
                out["type"] = [kind, "null"]
            elif isinstance(kind, list) and "null" not in kind:
                out["type"] = [*kind, "null"]
            if isinstance(out.get("enum"), list) and None not in out["enum"]:
                out["enum"] = [*out["enum"], None]
        return out


def normalize_schema(
    schema: dict[str, Any], *, merge_all_of: bool = True, keep_definitions: bool = True
) -> dict[str, Any]:
    """`schema` with its local references inlined and its spellings unified (see the module doc).

    Declarations pass `merge_all_of=False, keep_definitions=False`: the exported chat template (Jinja)
    inlines references and `nullable` the same way but cannot merge objects, so `allOf` is shown as
    written, and a recursive reference is shown as its `$ref` without the definitions.
    """
    normalizer = _Normalizer(schema, merge_all_of)
    out = normalizer.node(schema, ())
    if normalizer.kept_refs and keep_definitions:
        # A recursive schema keeps the definitions its remaining $refs point to (as `$defs`, by pointer).
        for ref in sorted(normalizer.kept_refs):
            parts = ref[1:].split("/")[1:]
            if len(parts) == 2 and parts[0] in _DEFINITIONS:
                section = out.setdefault(parts[0], {})
                section[parts[1]] = normalizer.node(_pointer(schema, ref), (ref,))
    return dict(out)
