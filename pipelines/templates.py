"""Dataflow Flex Templates: metadata generated from the config schema, and a local launcher.

``templates/flex/<family>/`` holds one template per sink family (its keys as parameters) and
``templates/flex/generic/`` one that takes a whole connector config. Each ``metadata.json`` is generated
here from the same ConfigDefs the validator uses (``python -m pipelines.templates`` rewrites them; a test
fails when they drift). ``beamconnect launch`` checks parameters the way Dataflow does (required,
regexes, enum values) and runs the template on any runner.

Parameter names are the Connect keys with ``.`` written as ``_`` (``flush.size`` -> ``flush_size``).
"""

from __future__ import annotations

import json
import os
import re
import sys
from typing import Any, Mapping, Optional

from pipelines.config.connector import COMMON
from common.configdef import describe
from common.errors import ConfigError
from sinks import SINKS, find_sink

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TEMPLATES_DIR = os.path.join(ROOT, "templates", "flex")
GENERIC = "generic"

_TYPE_REGEX = {"int": r"^-?[0-9]+$", "double": r"^-?[0-9]+(\.[0-9]+)?$",
               "boolean": r"^(true|false|TRUE|FALSE|True|False)$"}

RUN_PARAMETERS = [
    {"name": "mode", "label": "Run mode", "isOptional": True, "paramType": "ENUM",
     "helpText": "batch: one bounded run (default); micro-batch: a bounded run every interval.",
     "enumOptions": [{"value": "batch"}, {"value": "micro-batch"}]},
    {"name": "interval", "label": "Micro-batch interval", "isOptional": True, "paramType": "TEXT",
     "helpText": "Period of micro-batch runs, e.g. 30s, 5m, 1h.", "regexes": [r"^[0-9]+(ms|s|m|h)?$"]},
    {"name": "max_records", "label": "Maximum records", "isOptional": True, "paramType": "TEXT",
     "helpText": "Read at most this many offsets per run.", "regexes": [r"^[0-9]+$"]},
]
EXTRA_CONFIG = {
    "name": "extra_config", "label": "More connector keys", "isOptional": True, "paramType": "TEXT",
    "helpText": "A JSON object of further Kafka Connect keys (consumer.override.*, converter "
                "sub-keys such as value.converter.schemas.enable).", "regexes": [r"^\{.*\}$"]}
GENERIC_CONFIG = {
    "name": "connector_config", "label": "Connector config", "isOptional": False, "paramType": "TEXT",
    "helpText": "The whole connector config as a JSON object (flat, or Connect's REST form).",
    "regexes": [r"^\{.*\}$"]}
BOOTSTRAP = {"name": "bootstrap_servers", "label": "Kafka bootstrap servers", "isOptional": True,
             "paramType": "TEXT", "helpText": "Kafka brokers, host:port[,host:port...]."}


def families() -> list:
    """Each sink family's first short name (``files``, ``jdbc``...): aliases of one sink
    (``elasticsearch``, ``opensearch``) share its template."""
    seen, names = set(), []
    for name, sink in SINKS.items():
        if "." not in name and id(sink) not in seen:
            seen.add(id(sink))
            names.append(name)
    return names


def param_name(key: str) -> str:
    return key.replace(".", "_")


def _parameter(row: Mapping[str, Any]) -> dict:
    help_text = row["doc"] or row["name"]
    if row["default"] is not None:
        help_text += " Default: %s." % row["default"]
    param = {"name": param_name(row["name"]), "label": row["name"], "helpText": help_text,
             "isOptional": not row["required"], "paramType": "TEXT"}
    if row["choices"]:
        param["paramType"] = "ENUM"
        param["enumOptions"] = [{"value": c} for c in row["choices"]]
    elif row["regex"]:
        param["regexes"] = ["^(%s)$" % row["regex"]]
    elif row["type"] in _TYPE_REGEX:
        param["regexes"] = [_TYPE_REGEX[row["type"]]]
    return param


def family_metadata(family: str) -> dict:
    """Metadata of the template of one sink family (``files``)."""
    sink = find_sink(family)
    rows = [r for r in describe(COMMON) if r["name"] not in ("connector.class", "bootstrap.servers")]
    params = [_parameter(r) for r in rows + describe(sink.config_def)]
    params += [BOOTSTRAP, EXTRA_CONFIG] + RUN_PARAMETERS
    names = [p["name"] for p in params]
    if len(set(names)) != len(names):
        raise ValueError("two keys of %s map to one parameter name" % family)
    return {"name": "beamconnect-%s" % family,
            "description": "Kafka topics to %s with beamconnect (connector.class=%s)." % (family, family),
            "parameters": params}


def generic_metadata() -> dict:
    return {"name": "beamconnect-%s" % GENERIC,
            "description": "Any beamconnect connector, given its whole Kafka Connect config.",
            "parameters": [GENERIC_CONFIG, BOOTSTRAP] + RUN_PARAMETERS}


def dockerfile(template: str) -> str:
    return DOCKERFILE.format(template=template)


DOCKERFILE = """\
# Launcher image of the beamconnect-{template} Flex Template; build it from the repository root:
#   docker build -f templates/flex/{template}/Dockerfile -t IMAGE .
# (the README shows the gcloud commands that build and run the template).
FROM gcr.io/dataflow-templates-base/python311-template-launcher-base

ARG WORKDIR=/template
WORKDIR ${{WORKDIR}}
COPY setup.py requirements.txt README.md ${{WORKDIR}}/
COPY common ${{WORKDIR}}/common
COPY pipelines ${{WORKDIR}}/pipelines
COPY transforms ${{WORKDIR}}/transforms
COPY sinks ${{WORKDIR}}/sinks
COPY templates ${{WORKDIR}}/templates

ENV FLEX_TEMPLATE_PYTHON_PY_FILE=${{WORKDIR}}/pipelines/flex.py
ENV FLEX_TEMPLATE_PYTHON_SETUP_FILE=${{WORKDIR}}/setup.py
ENV BEAMCONNECT_TEMPLATE=${{WORKDIR}}/templates/flex/{template}
ENV NO_GCE_CHECK=false

# the pinned versions, less the test suite's own packages
RUN grep -v '# test$' requirements.txt > /tmp/requirements.txt \\
    && pip install --no-cache-dir -r /tmp/requirements.txt && pip install --no-cache-dir --no-deps .

ENTRYPOINT ["/opt/google/dataflow/python_template_launcher"]
"""


def write_templates(root: str = TEMPLATES_DIR) -> list:
    """(Re)writes every template's metadata.json and Dockerfile; returns the paths written."""
    written = []
    for template, metadata in [*((f, family_metadata(f)) for f in families()),
                               (GENERIC, generic_metadata())]:
        directory = os.path.join(root, template)
        os.makedirs(directory, exist_ok=True)
        for name, text in (("metadata.json", json.dumps(metadata, indent=2) + "\n"),
                           ("Dockerfile", dockerfile(template))):
            path = os.path.join(directory, name)
            with open(path, "w", encoding="utf-8") as f:
                f.write(text)
            written.append(path)
    return written


def load_metadata(template_dir: str) -> dict:
    path = os.path.join(template_dir, "metadata.json")
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except FileNotFoundError:
        raise ConfigError("template directory %r has no metadata.json" % template_dir) from None
    except json.JSONDecodeError as exc:
        raise ConfigError("%s is not valid JSON: %s" % (path, exc)) from None


def parse_parameters(text: str) -> dict:
    """``k=v,k2=v2``, or gcloud's escaped form ``^;^k=v;k2=a,b`` for values holding commas."""
    delim = ","
    if text.startswith("^"):
        end = text.find("^", 1)
        if end < 2:
            raise ConfigError("--parameters with a custom delimiter must start ^DELIM^, got %r" % text)
        delim, text = text[1:end], text[end + 1:]
    params = {}
    for item in filter(None, text.split(delim)):
        name, sep, value = item.partition("=")
        if not sep:
            raise ConfigError("--parameters items must be NAME=VALUE, got %r" % item)
        params[name.strip()] = value
    return params


def validate_parameters(metadata: Mapping[str, Any], params: Mapping[str, str]) -> None:
    """Checks parameters as Dataflow does before launching: known, required, regexes, enum values."""
    specs = {p["name"]: p for p in metadata["parameters"]}
    for name in params:
        if name not in specs:
            raise ConfigError("unknown template parameter %r; parameters of %s: %s"
                              % (name, metadata["name"], ", ".join(sorted(specs))))
    for name, spec in specs.items():
        if name not in params:
            if not spec.get("isOptional", False):
                raise ConfigError("template parameter %r is required" % name)
            continue
        value = params[name]
        for regex in spec.get("regexes", ()):
            if not re.fullmatch(regex, value, re.DOTALL):
                raise ConfigError("template parameter %s must match %r, got %r" % (name, regex, value))
        if spec.get("paramType") == "ENUM":
            allowed = [o["value"] for o in spec["enumOptions"]]
            if value not in allowed:
                raise ConfigError("template parameter %s must be one of %s, got %r"
                                  % (name, ", ".join(repr(a) for a in allowed), value))


def connector_config(metadata: Mapping[str, Any], params: Mapping[str, str]) -> dict:
    """The raw connector config a template's parameters stand for."""
    template = metadata["name"].split("-", 1)[1]
    run_names = {p["name"] for p in RUN_PARAMETERS} | {BOOTSTRAP["name"]}
    if template == GENERIC:
        raw = json.loads(params[GENERIC_CONFIG["name"]])
        if isinstance(raw.get("config"), dict):
            raw = {"name": raw.get("name"), **raw["config"]}
    else:
        keys = {param_name(k): k for k in (*COMMON.names(), *find_sink(template).config_def.names())}
        raw = {keys[n]: v for n, v in params.items() if n in keys and n not in run_names}
        raw["connector.class"] = template
        if params.get(EXTRA_CONFIG["name"]):
            raw.update(json.loads(params[EXTRA_CONFIG["name"]]))
    return {k: v if isinstance(v, str) else json.dumps(v) if isinstance(v, (dict, list)) else
            str(v).lower() if isinstance(v, bool) else str(v) for k, v in raw.items() if v is not None}


def run_arguments(params: Mapping[str, str]) -> list:
    """The ``beamconnect run`` options that the run parameters stand for."""
    args = []
    for name, flag in (("bootstrap_servers", "--bootstrap-servers"), ("mode", "--mode"),
                       ("interval", "--interval"), ("max_records", "--max-records")):
        if params.get(name):
            args += [flag, params[name]]
    return args


def main(argv: Optional[list] = None) -> int:
    for path in write_templates():
        print(os.path.relpath(path, ROOT))
    return 0


if __name__ == "__main__":
    sys.exit(main())
