"""A throwaway FerretDB 1.24 (a MongoDB wire-protocol server) on its SQLite backend.

:func:`ensure_ferretdb` builds ``github.com/FerretDB/FerretDB`` at :data:`VERSION` once into
``${BEAMCONNECT_CACHE:-~/.cache/beamconnect}/ferretdb-<version>-<patch level>/ferretdb`` (under a file
lock, into a partial directory renamed when complete, so that several processes can ask at once and
an interrupted build starts again). ``go install ...@v1.24.2`` gives a binary that panics at start
(the module lacks the generated ``build/version/version.txt``), so the build downloads the module
(``go mod download``), copies its source to a writable directory, writes that file and runs
``go build ./cmd/ferretdb`` there. Small source edits go in before the build (:data:`_PATCHES`),
each checked to apply (the build fails, naming the file, if the text it replaces is not found):

- ``internal/handler/msg_update.go``: each statement's iterator is closed once the statement is
  done, instead of when the whole command ends. Unpatched, one ``update`` command of some 50-100
  replacements of existing documents holds that many queries open, drains the backend's connection
  pool and hangs the server for good (both backends).
- the same file: an ``update`` command reports a failing statement as MongoDB does, in
  ``writeErrors`` with that statement's index, beside ``n`` and ``nModified``, and goes on with the
  next statements unless it is ``ordered``. Unpatched, the first failing statement ends the command
  (the ones before it applied), is reported at index 0 whichever it was, and the reply lacks ``n`` and
  ``nModified``, which pymongo's ``bulk_write`` cannot read (a ``KeyError`` inside the driver).
- ``internal/handler/common/update_params.go``: the command's ``ordered`` is read (default true, as
  MongoDB's), instead of ignored.
- ``internal/backends/sqlite/metadata/metadata.go``: ``_id`` lookups query ``sjson->"_id"``, the
  expression the unique ``_id`` index is built on, instead of ``sjson->'$._id'``, which SQLite cannot
  match with it: unpatched, every ``_id`` lookup scans the collection (some 70 writes/s).
- ``internal/backends/sqlite/collection.go``: a filter holding ``_id`` and more conditions pushes the
  ``_id`` equality down to SQLite too (the backend contract lets it apply a filter in part: the
  handler filters the documents it gets again). Unpatched, only a filter of ``_id`` alone uses the
  index, and a conditional write (``{_id: X, $nor: [...]}``) scans the collection.

These are FerretDB's defects, not MongoDB's behaviours; a real MongoDB needs none of this.

:class:`LocalFerretDB` runs it in the foreground::

    ferretdb --handler=sqlite --sqlite-url=file:DIR/data/ --state-dir=DIR/state
             --listen-addr=127.0.0.1:PORT --debug-addr=127.0.0.1:PORT2 --telemetry=disable

with its data in its own directory, so that :meth:`~tests.servers.base.ServerProcess.pause` and
``resume`` restart it with its documents as they were. It stops about 1 s after SIGTERM.

Credentials: FerretDB 1.24 authenticates on its PostgreSQL backend by handing the client's user and
password to PostgreSQL (PLAIN); on SQLite it takes anyone, unless its experimental SCRAM
authentication is on (``--test-enable-new-auth``), which keeps users of its own. With ``user``, the
server runs that way and creates the user at start (``--setup-username``, ``--setup-password``,
``--setup-database``); commands then need a login, and a wrong password is refused as MongoDB refuses
it (``Authentication failed``, code 18). That keeps the suite on SQLite, without a PostgreSQL server.
"""

from __future__ import annotations

import json
import logging
import pathlib
import shutil
import socket
import struct
import subprocess
from typing import Optional, Sequence

from common.errors import BeamConnectError
from pipelines.dev_cache import cached, go_executable, run_go
from tests.servers.base import HOST, ServerProcess

_LOGGER = logging.getLogger(__name__)

MODULE = "github.com/FerretDB/FerretDB"
VERSION = "v1.24.2"
PATCH_LEVEL = "p3"
"""Bumped whenever :data:`_PATCHES` change, so that a cached binary built without them is rebuilt."""

# The update command's statements, each on its own: a failing one is a write error at its index.
_UPDATE_STATEMENTS = """\
	var matched, modified int32
	upserted := types.MakeArray(0)
	var writeErrors []*mongo.WriteError

	for i, u := range params.Updates {
		one := *params
		one.Updates = []common.Update{u}

		m, mod, ups, err := h.updateDocument(connCtx, &one)
		if err != nil {
			err = handleUpdateError(params.DB, params.Collection, "update", err)

			var we *handlererrors.WriteErrors
			if !errors.As(err, &we) {
				return nil, err
			}

			e := we.Document().Get("writeErrors").(*wirebson.Array).Get(0).(*wirebson.Document)
			writeErrors = append(writeErrors, &mongo.WriteError{
				Index:   i,
				Code:    int(e.Get("code").(int32)),
				Message: e.Get("errmsg").(string),
			})

			if params.Ordered {
				break
			}

			continue
		}

		matched += m
		modified += mod

		if ups.Len() != 0 {
			doc := must.NotFail(ups.Get(0)).(*types.Document)
			upserted.Append(must.NotFail(types.NewDocument(
				"index", int32(i),
				"_id", must.NotFail(doc.Get("_id")),
			)))
		}
	}

	res := must.NotFail(types.NewDocument(
		"n", matched,
	))

	if upserted.Len() != 0 {
		res.Set("upserted", upserted)
	}

	res.Set("nModified", modified)

	if len(writeErrors) > 0 {
		array := types.MakeArray(len(writeErrors))
		for _, we := range writeErrors {
			array.Append(WriteErrorDocument(we))
		}

		res.Set("writeErrors", array)
	}

	res.Set("ok", float64(1))
"""

# (file, text as published, text built, times it occurs): the edits the module docstring explains.
_PATCHES = (
    ("internal/handler/msg_update.go",
     "\t\tcloser := iterator.NewMultiCloser()\n\t\tdefer closer.Close()\n",
     "\t\tcloser := iterator.NewMultiCloser()\n", 1),
    ("internal/handler/msg_update.go",
     '\t\tresult, err := common.UpdateDocument(ctx, c, "update", iter, &u)\n',
     '\t\tresult, err := common.UpdateDocument(ctx, c, "update", iter, &u)\n\t\tcloser.Close()\n', 1),
    ("internal/backends/sqlite/metadata/metadata.go",
     "\tIDColumn = DefaultColumn + \"->'$._id'\"\n",
     "\tIDColumn = DefaultColumn + `->\"_id\"`\n", 1),
    ("internal/handler/msg_update.go",
     '\t"context"\n\t"fmt"\n\n\t"github.com/FerretDB/wire"\n',
     '\t"context"\n\t"errors"\n\t"fmt"\n\n\t"github.com/FerretDB/wire"\n'
     '\t"github.com/FerretDB/wire/wirebson"\n\t"go.mongodb.org/mongo-driver/mongo"\n', 1),
    ("internal/handler/msg_update.go",
     '\t// TODO https://github.com/FerretDB/FerretDB/issues/2612\n\t_ = params.Ordered\n\n'
     '\tmatched, modified, upserted, err := h.updateDocument(connCtx, params)\n'
     '\tif err != nil {\n\t\treturn nil, handleUpdateError(params.DB, params.Collection, "update", err)\n'
     '\t}\n\n\tres := must.NotFail(types.NewDocument(\n\t\t"n", matched,\n\t))\n\n'
     '\tif upserted.Len() != 0 {\n\t\tres.Set("upserted", upserted)\n\t}\n\n'
     '\tres.Set("nModified", modified)\n\tres.Set("ok", float64(1))\n',
     _UPDATE_STATEMENTS, 1),
    ("internal/handler/common/update_params.go", 'ferretdb:"ordered,ignored"', 'ferretdb:"ordered,opt"',
     1),
    ("internal/handler/common/update_params.go", "\tvar params UpdateParams\n",
     "\tparams := UpdateParams{Ordered: true}\n", 1),
    ("internal/backends/sqlite/collection.go",  # the query, and its explain
     "\tif params.Filter.Len() == 1 {\n\t\tv, _ := params.Filter.Get(\"_id\")\n",
     "\tif params.Filter.Len() >= 1 {\n\t\tv, _ := params.Filter.Get(\"_id\")\n", 2),
)


def ensure_ferretdb(version: str = VERSION) -> pathlib.Path:
    """Builds FerretDB ``version`` (patched, see the module docstring) unless already built; returns
    the binary's path.

    Raises:
      BeamConnectError: Go is missing, the module could not be downloaded, a patch did not apply or
        the build failed (with the end of its output).
    """
    what = "FerretDB (go build of %s@%s)" % (MODULE, version)
    go_executable(what)

    def make(home: pathlib.Path) -> str:
        _LOGGER.info("building FerretDB %s from its Go module (once; a few minutes)", version)
        env = {"CGO_ENABLED": "0", "GOFLAGS": "-mod=mod -buildvcs=false"}
        downloaded = run_go(["mod", "download", "-json", "%s@%s" % (MODULE, version)], what, cwd=home,
                            env=env)
        source = home / "src"
        shutil.copytree(json.loads(downloaded)["Dir"], source, symlinks=True)
        for path in [source, *source.rglob("*")]:
            if not path.is_symlink():
                path.chmod(path.stat().st_mode | 0o200)
        (source / "build" / "version" / "version.txt").write_text(version + "\n")
        for name, published, built, times in _PATCHES:
            target = source / name
            text = target.read_text()
            if text.count(published) != times:
                raise BeamConnectError("the FerretDB %s source edit of %s does not apply: the text it "
                                       "replaces is found %d times, not %d"
                                       % (version, name, text.count(published), times))
            target.write_text(text.replace(published, built))
        run_go(["build", "-trimpath", "-o", str(home / "ferretdb"), "./cmd/ferretdb"], what, cwd=source,
               env=env)
        shutil.rmtree(source, ignore_errors=True)
        return "ferretdb %s, patch level %s" % (version, PATCH_LEVEL)

    return cached("ferretdb-%s-%s" % (version.lstrip("v"), PATCH_LEVEL), make) / "ferretdb"


class LocalFerretDB(ServerProcess):
    """A FerretDB server of its own on SQLite, on 127.0.0.1 and a free port.

    Example::

        with LocalFerretDB() as server:
            pymongo.MongoClient(server.uri).test.docs.insert_one({"a": 1})

    Args:
      options: Extra ``ferretdb`` options.
      user: ``(name, password, database)``: turn authentication on and create that user (see the
        module docstring); None: every client is taken without a login.
    """

    name = "FerretDB"
    port_count = 2  # the wire protocol, and the debug HTTP handler

    def __init__(self, options: Sequence[str] = (), user: Optional[tuple] = None):
        super().__init__(options)
        self.user = tuple(user) if user else None

    @property
    def uri(self) -> str:
        """``mongodb://127.0.0.1:PORT/``, without credentials."""
        return "mongodb://%s:%d/" % (HOST, self.port)

    def _initialize(self) -> None:
        (self.workdir / "data").mkdir()
        (self.workdir / "state").mkdir()

    def _launch(self) -> subprocess.Popen:
        binary = ensure_ferretdb()
        argv = [str(binary), "--handler=sqlite", "--sqlite-url=file:%s/" % (self.workdir / "data"),
                "--state-dir=%s" % (self.workdir / "state"),
                "--listen-addr=%s:%d" % (HOST, self.ports[0]),
                "--debug-addr=%s:%d" % (HOST, self.ports[1]), "--telemetry=disable",
                "--log-level=warn"]
        env = None
        if self.user:
            name, password, database = self.user
            argv += ["--test-enable-new-auth", "--setup-username=%s" % name,
                     "--setup-database=%s" % database]
            env = {"FERRETDB_SETUP_PASSWORD": password}  # kept off the command line
        options = self._popen_options()
        if env:
            options["env"] = {**options["env"], **env}
        with open(self.workdir / "ferretdb.log", "ab") as log:
            return subprocess.Popen(argv + list(self.options), stdout=log, stderr=subprocess.STDOUT,
                                    **options)

    def _ping(self) -> bool:
        """Whether the server answers a ``hello`` (an OP_MSG on the wire, no client library)."""
        body = b"\x10hello\x00\x01\x00\x00\x00\x02$db\x00\x06\x00\x00\x00admin\x00\x00"
        document = struct.pack("<i", 4 + len(body)) + body
        section = struct.pack("<i", 0) + b"\x00" + document
        message = struct.pack("<iiii", 16 + len(section), 1, 0, 2013) + section
        try:
            with socket.create_connection((HOST, self.port), timeout=2.0) as sock:
                sock.sendall(message)
                header = sock.recv(16)
        except OSError:
            return False
        return len(header) == 16 and struct.unpack("<i", header[12:16])[0] == 2013

    def _log_files(self) -> Sequence[pathlib.Path]:
        return [self.workdir / "ferretdb.log"] if self.workdir is not None else []
