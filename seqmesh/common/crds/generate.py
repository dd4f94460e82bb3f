"""CustomResourceDefinitions generated from the models: `python -m seqmesh.common.crds.generate [DIR]`.

Pydantic's JSON Schema becomes a structural OpenAPI v3 schema: references inlined, titles
dropped, `X | None` turned into `nullable`, and the status open to fields the operator adds.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import yaml

from seqmesh.common.venues import VENUE_IDS

from .models import CIDR, CPU, DECIMAL, DNS_LABEL, GROUP, HOST, HOSTPORT, KINDS, QUANTITY, SYMBOL, VERSION, Kind


def _structural(schema: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    if "$ref" in schema:
        return _structural(defs[schema["$ref"].split("/")[-1]], defs)
    if "anyOf" in schema:
        options = [s for s in schema["anyOf"] if s.get("type") != "null"]
        nullable = len(options) < len(schema["anyOf"])
        merged: dict[str, Any] = (_structural(options[0], defs) if len(options) == 1
                                  else {"x-kubernetes-preserve-unknown-fields": True})
        extra = {k: v for k, v in schema.items() if k not in ("anyOf", "title", "default")}
        merged.update(_structural(extra, defs) if extra else {})
        if nullable:
            merged["nullable"] = True
        return merged
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key in ("title", "$defs", "additionalProperties") and not (key == "additionalProperties"
                                                                       and isinstance(value, dict)):
            continue
        if key == "properties":
            out[key] = {k: _structural(v, defs) for k, v in value.items()}
        elif key in ("items", "additionalProperties"):
            out[key] = _structural(value, defs)
        elif key == "const":
            out["enum"] = [value]
        elif key in ("exclusiveMinimum", "exclusiveMaximum") and not isinstance(value, bool):
            # JSON Schema's numeric form; OpenAPI v3.0 (Kubernetes) wants a bound plus a flag.
            out["minimum" if key == "exclusiveMinimum" else "maximum"] = value
            out[key] = True
        elif key == "default" and value is None:
            continue
        else:
            out[key] = value
    if "enum" in out and "type" not in out:
        out["type"] = "string"
    return out


def schema_of(model: Any) -> dict[str, Any]:
    raw = model.model_json_schema(mode="serialization")
    return _structural(raw, raw.get("$defs", {}))


def crd(kind: Kind) -> dict[str, Any]:
    status = schema_of(kind.status)
    status["x-kubernetes-preserve-unknown-fields"] = True  # room for kopf's own bookkeeping
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{kind.plural}.{GROUP}"},
        "spec": {
            "group": GROUP,
            "names": {"kind": kind.kind, "listKind": f"{kind.kind}List", "plural": kind.plural,
                      "singular": kind.kind.lower(), "shortNames": list(kind.short_names),
                      "categories": ["seqmesh"]},
            "scope": "Namespaced",
            "versions": [{
                "name": VERSION, "served": True, "storage": True,
                "subresources": {"status": {}},
                "additionalPrinterColumns": [
                    *({"name": n, "type": t, "jsonPath": p} for n, t, p in kind.columns),
                    {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
                ],
                "schema": {"openAPIV3Schema": {
                    "type": "object", "required": ["spec"],
                    "properties": {"apiVersion": {"type": "string"}, "kind": {"type": "string"},
                                   "metadata": {"type": "object"}, "spec": schema_of(kind.spec), "status": status},
                }},
            }],
        },
    }


def render(kind: Kind) -> str:
    header = ("# Generated from seqmesh/common/crds/models.py by"
              " `python -m seqmesh.common.crds.generate`; do not edit.\n")
    return header + yaml.safe_dump(crd(kind), sort_keys=False, width=120)


def helm_values_schema() -> dict[str, Any]:
    """values.schema.json of the Helm chart, from the same names and patterns as the CRDs."""
    obj = {"type": "object"}
    return {
        "$schema": "http://json-schema.org/draft-07/schema#", "type": "object",
        "required": ["image", "operator", "region", "edges", "peerLinks"],
        "properties": {
            "image": {**obj, "required": ["repository", "tag"], "additionalProperties": False, "properties": {
                "repository": {"type": "string", "minLength": 1}, "tag": {"type": "string", "minLength": 1},
                "pullPolicy": {"enum": ["Always", "IfNotPresent", "Never"]}}},
            "grafanaDashboard": {**obj, "additionalProperties": False, "properties": {
                "enabled": {"type": "boolean"}, "label": {"type": "string", "minLength": 1}}},
            "operator": {**obj, "additionalProperties": False, "properties": {
                "watchAllNamespaces": {"type": "boolean"},
                "resyncSeconds": {"type": "integer", "minimum": 1, "maximum": 86400},
                "metricsPort": {"type": "integer", "minimum": 1, "maximum": 65535},
                "livenessPort": {"type": "integer", "minimum": 1, "maximum": 65535},
                "resources": obj}},
            "region": {**obj, "required": ["enabled"], "additionalProperties": False, "properties": {
                "enabled": {"type": "boolean"}, "name": {"type": "string", "pattern": DNS_LABEL},
                "apiPort": {"type": "integer", "minimum": 1, "maximum": 65535},
                "peerPort": {"type": "integer", "minimum": 1, "maximum": 65535},
                "certificateLifetimeSeconds": {"type": "integer", "minimum": 10},
                "durability": {"enum": ["power-loss", "process-crash"]},
                "risk": obj,
                "apiKeysSecret": {"type": "string", "pattern": f"^$|{DNS_LABEL}"},
                "caSecret": {"type": "string", "pattern": f"^$|{DNS_LABEL}"},
                "apiTlsSecret": {"type": "string", "pattern": f"^$|{DNS_LABEL}"},
                "peerAdvertise": {"type": "array", "maxItems": 16, "items": {"type": "string", "pattern": HOST}},
                "ledgerUrlSecret": {**obj, "additionalProperties": False, "properties": {
                    "name": {"type": "string", "pattern": f"^$|{DNS_LABEL}"}, "key": {"type": "string"}}},
                "storage": {**obj, "additionalProperties": False, "properties": {
                    "storageClassName": {"type": "string"},
                    "ccSize": {"type": "string", "pattern": QUANTITY},
                    "edgeSize": {"type": "string", "pattern": QUANTITY},
                    "retainOnDelete": {"type": "boolean"}}},
                "resources": {**obj, "additionalProperties": False, "properties": {
                    process: {**obj, "additionalProperties": False, "properties": {
                        "cpu": {"type": "string", "pattern": CPU},
                        **{k: {"type": "string", "pattern": QUANTITY} for k in ("memory", "memoryLimit")}}}
                    for process in ("cc", "edge")}}}},
            "edges": {"type": "array", "items": {**obj, "required": ["venue", "symbols"], "additionalProperties": False,
                                                 "properties": {
                "venue": {"enum": list(VENUE_IDS)},
                "symbols": {"type": "array", "minItems": 1, "items": {"type": "string", "pattern": SYMBOL}},
                "credentialsSecret": {"type": "string", "pattern": DNS_LABEL},
                "wrappingKeysSecret": {"type": "string", "pattern": DNS_LABEL},
                "exchangeId": {"type": "string"}, "simulatorUrl": {"type": "string", "pattern": "^https?://"},
                "simulatorDialect": {"enum": ["binance", "okx"]},
                "rateLimitPerSecond": {"type": "number", "exclusiveMinimum": 0},
                "chain": {**obj, "required": ["rpcUrl", "router"], "additionalProperties": False, "properties": {
                    "rpcUrl": {"type": "string", "pattern": "^(https?|wss?)://"},
                    "router": {"type": "string", "pattern": "^0x[0-9a-fA-F]{40}$"},
                    "confirmations": {"type": "integer", "minimum": 1, "maximum": 64},
                    "slippage": {"type": "string", "pattern": DECIMAL}}},
                "solana": {**obj, "required": ["rpcUrl"], "additionalProperties": False, "properties": {
                    "rpcUrl": {"type": "string", "pattern": "^https?://"},
                    "rfqUrl": {"type": "string", "pattern": "^https?://"},
                    "commitment": {"enum": ["processed", "confirmed", "finalized"]}}}}}},
            "peerLinks": {"type": "array", "items": {**obj, "required": ["remoteRegion", "endpoint", "caBundle"],
                                                     "additionalProperties": False, "properties": {
                "remoteRegion": {"type": "string", "pattern": DNS_LABEL},
                "endpoint": {"type": "string", "pattern": HOSTPORT},
                "caBundle": {"type": "string", "pattern": "-----BEGIN CERTIFICATE-----"},
                "rttProbeSeconds": {"type": "integer", "minimum": 1},
                "sourceCIDRs": {"type": "array", "maxItems": 32, "items": {"type": "string", "pattern": CIDR}}}}},
        },
    }


def render_values_schema() -> str:
    import json

    return json.dumps(helm_values_schema(), indent=2) + "\n"


def write(directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for kind in KINDS:
        path = directory / f"{kind.plural}.{GROUP}.yaml"
        path.write_text(render(kind))
        paths.append(path)
    return paths


if __name__ == "__main__":
    repo = Path(__file__).resolve().parents[3]
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else repo / "crds"
    for p in write(target):
        print(p)
    schema = repo / "charts" / "seqmesh" / "values.schema.json"
    schema.write_text(render_values_schema())
    print(schema)
