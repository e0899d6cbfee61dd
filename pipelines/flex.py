"""Entry point of the Flex Template launcher image (``FLEX_TEMPLATE_PYTHON_PY_FILE``).

Dataflow passes each template parameter as ``--NAME=VALUE`` and adds its own pipeline options; the
template's directory comes from ``BEAMCONNECT_TEMPLATE``. Parameters are checked against the
template's metadata, then the connector runs as ``beamconnect launch`` would run it.
"""

from __future__ import annotations

import os
import sys


def split_arguments(argv, names) -> tuple:
    """(template parameters, other arguments) of ``--NAME=VALUE`` / ``--NAME VALUE`` arguments."""
    params, rest = {}, []
    i = 0
    while i < len(argv):
        arg = argv[i]
        name, sep, value = arg[2:].partition("=") if arg.startswith("--") else ("", "", "")
        if name in names:
            if not sep:
                i += 1
                value = argv[i] if i < len(argv) else ""
            params[name] = value
        else:
            rest.append(arg)
        i += 1
    return params, rest


def main(argv=None) -> int:
    from common import logs
    from common.secrets import redacting_streams
    from pipelines import cli, templates

    argv = sys.argv[1:] if argv is None else argv
    template_dir = os.environ.get("BEAMCONNECT_TEMPLATE",
                                  os.path.join(templates.TEMPLATES_DIR, templates.GENERIC))
    metadata = templates.load_metadata(template_dir)
    params, beam_args = split_arguments(argv, {p["name"] for p in metadata["parameters"]})
    with redacting_streams():
        logs.configure()
        try:
            return cli.launch(template_dir, params, beam_args)
        except cli.BeamConnectError as exc:
            return cli._fail(exc)


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    sys.exit(main())
