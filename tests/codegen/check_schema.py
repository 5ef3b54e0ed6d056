"""check_schema.py SCHEMA GOOD.json... - the entity IR JSON Schema is a
valid draft 2020-12 schema, accepts every good IR given, and rejects the
bad IRs whose fault is one of shape, names or type syntax (the rest only
sf-codegen can see: duplicates, references, cycles, defaults)."""
import json
import os
import sys

import jsonschema

schema = json.load(open(sys.argv[1]))
jsonschema.Draft202012Validator.check_schema(schema)
v = jsonschema.Draft202012Validator(schema)
fail = 0
for path in sys.argv[2:]:
    errors = list(v.iter_errors(json.load(open(path))))
    for e in errors:
        print(f"{path}: schema rejects a good IR: {e.json_path}: {e.message}")
        fail = 1
bad_dir = os.path.join(os.path.dirname(os.path.abspath(__file__)), "bad")
SHAPE_FAULTS = [
    "not-an-object", "missing-namespace", "unknown-top-key", "bad-namespace",
    "reserved-namespace", "no-entities", "entities-object", "entity-not-object",
    "bad-entity-name", "missing-method-name", "unknown-method-key",
    "keyword-param", "reserved-prefix", "bad-field-name", "list-without-element",
    "default-on-param", "call-malformed", "local-frame-member", "void-param",
    "void-in-list-result", "read-only-not-bool", "local-frame-result",
    "name-too-long",
]
for name in SHAPE_FAULTS:
    doc = json.load(open(os.path.join(bad_dir, name + ".json")))
    if v.is_valid(doc):
        print(f"bad/{name}.json: the schema accepts it")
        fail = 1
print(f"schema ok: {len(sys.argv) - 2} good IRs accepted, "
      f"{len(SHAPE_FAULTS)} bad IRs rejected" if not fail else "schema FAILED")
sys.exit(fail)
