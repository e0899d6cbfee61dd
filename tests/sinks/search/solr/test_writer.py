"""The Solr sink's write DoFn and check against a real Solr node: ids, deletes, conditional writes,
refused documents, commitWithin, retries of 429 and 5xx, and what check() refuses before a run."""

import http.client
import http.server
import json
import re
import threading
import time
import urllib.parse

import pytest

from common.errors import BeamConnectError, RetriableError
from sinks.search.solr.sink import SolrSink
from sinks.search.solr.writer import SolrWriteFn
from tests.servers.solr import PLAIN_CONFIGSET
from tests.sinks.search.solr.conftest import bundle, sink_config, write
from transforms.records import WriteResult


def _doc(**fields):
    return json.dumps(fields)


def _fields(docs):
    """``{id: {field: value}}`` without Solr's ``_version_``."""
    return {i: {k: v for k, v in d.items() if k != "_version_"} for i, d in docs.items()}


def test_ids_from_keys_the_value_id_field_and_coordinates(solr, core):
    config = sink_config(solr, core)
    [result] = write(config, bundle("orders", [
        ("a", _doc(name_s="first", n_i=1, missing_s=None)),
        (None, _doc(name_s="no key")),
        (None, _doc(id="own", name_s="own id")),
        ("a", _doc(name_s="second", n_i=2)),  # the same document: the last record wins
    ], partition=3, start=40))

    assert result == WriteResult("orders", 3, 40, 43, 4, (core,), result.size)
    docs = _fields(solr.get(core, ["a", "orders+3+41", "own"]))
    assert docs == {
        "a": {"id": "a", "name_s": "second", "n_i": 2, "__connect_topic": "orders",
              "__connect_partition": 3, "__connect_offset": 43},
        "orders+3+41": {"id": "orders+3+41", "name_s": "no key", "__connect_topic": "orders",
                        "__connect_partition": 3, "__connect_offset": 41},
        "own": {"id": "own", "name_s": "own id", "__connect_topic": "orders",
                "__connect_partition": 3, "__connect_offset": 42},
    }


def test_records_that_cannot_be_documents_are_rejected_and_the_rest_indexed(solr, core):
    config = sink_config(solr, core)
    [result, strings] = write(config, bundle("orders", [
        ("a", _doc(name_s="ok")),
        ("c", _doc(id="other", name_s="id differs from the key")),
        ("d", _doc(id="d", name_s="same id as the key")),
    ]), bundle("orders", [("b", json.dumps("not an object"))], start=3))

    assert sorted(solr.get(core, ["a", "b", "c", "d", "other"])) == ["a", "d"]
    assert (result.records, strings.records) == (2, 0)
    reasons = {f.offset: f.reason for f in result.failed + strings.failed}
    assert reasons == {
        1: "the value's 'id' field is not the record key, which is the document id: remove or "
           "rename that field (ReplaceField$Value), or make it the key (ValueToKey and "
           "ExtractField$Key)",
        3: "a value must be a struct or a JSON object to become a Solr document, got a string"}
    assert {f.stage for f in result.failed + strings.failed} == {"TASK_PUT"}


def test_tombstones_delete_by_id_only_when_deletes_are_enabled(solr, core):
    write(sink_config(solr, core), bundle("orders", [("a", _doc(n_i=1)), ("b", _doc(n_i=2))]))

    [kept] = write(sink_config(solr, core, **{"solr.delete.documents.enabled": "false"}),
                   bundle("orders", [("a", None), (None, None)], start=2))
    assert kept.records == 0
    assert sorted(solr.get(core, ["a", "b"])) == ["a", "b"]

    [deleted] = write(sink_config(solr, core), bundle("orders", [("a", None), (None, None),
                                                                 ("never-indexed", None)], start=2))
    assert deleted.records == 1  # the null-key tombstone names nothing; the absent one is no-op
    assert sorted(solr.get(core, ["a", "b"])) == ["b"]


def _older_and_newer(prefix, last=None):
    """Bundles of offsets 0..4 (keys 0..4) and 5..8 (keys 0..3), the last record being ``last``."""
    older = bundle("orders", [("%s%d" % (prefix, i), _doc(v_s="old-%d" % i)) for i in range(5)])
    newer = bundle("orders", [("%s%d" % (prefix, i), _doc(v_s="new-%d" % i)) for i in range(3)]
                   + [("%s3" % prefix, last)], start=5)
    return older, newer


def _values(solr, core, prefix):
    docs = solr.get(core, ["%s%d" % (prefix, i) for i in range(5)])
    return {i: (d["v_s"], d["__connect_offset"]) for i, d in docs.items()}


def test_a_replay_writes_nothing(solr, core):
    config = sink_config(solr, core)
    older, newer = _older_and_newer("k", _doc(v_s="new-3"))
    assert [r.records for r in write(config, older, newer)] == [5, 4]
    expected = {"k0": ("new-0", 5), "k1": ("new-1", 6), "k2": ("new-2", 7), "k3": ("new-3", 8),
                "k4": ("old-4", 4)}
    assert _values(solr, core, "k") == expected

    assert [r.records for r in write(config, older, newer, newer, older)] == [0, 0, 0, 0]
    assert _values(solr, core, "k") == expected


def test_bundles_in_reverse_order_leave_the_newest_documents(solr, core):
    config = sink_config(solr, core)
    older, newer = _older_and_newer("k")
    assert [r.records for r in write(config, newer, older)] == [3, 2]  # k3's delete found nothing
    assert _values(solr, core, "k") == {
        "k0": ("new-0", 5), "k1": ("new-1", 6), "k2": ("new-2", 7), "k4": ("old-4", 4),
        # the tombstone of k3 (offset 8) landed first and took k3's coordinates with it, so the
        # older record (offset 3) created the document again; its tombstone's replay deletes it
        "k3": ("old-3", 3)}
    assert [r.records for r in write(config, newer)] == [1]
    assert "k3" not in _values(solr, core, "k")


def test_another_partitions_record_overwrites_last_writer_wins(solr, core):
    config = sink_config(solr, core)
    write(config, bundle("orders", [("k", _doc(v_s="p0"))], partition=0, start=100),
          bundle("orders", [("k", _doc(v_s="p1"))], partition=1, start=3))
    [doc] = solr.get(core, ["k"]).values()
    assert (doc["v_s"], doc["__connect_partition"], doc["__connect_offset"]) == ("p1", 1, 3)


def test_a_document_changed_between_read_and_write_is_read_again(solr, core):
    config = sink_config(solr, core)
    write(config, bundle("orders", [("k", _doc(v_s="first"))]))
    fn = SolrWriteFn(config, _context())
    fn.setup()
    reads = []
    real_get = fn._client.get

    def stale_once(*args):  # the first read misses the document, as if it was written since
        reads.append(args[1])
        return {} if len(reads) == 1 else real_get(*args)

    fn._client.get = stale_once
    try:
        [result] = list(fn.process(bundle("orders", [("k", _doc(v_s="second")), ("j", _doc())],
                                          start=1)))
    finally:
        fn.teardown()
    assert len(reads) == 2 and result.records == 2
    assert solr.get(core, ["k"])["k"]["v_s"] == "second"


def test_a_document_solr_refuses_is_isolated_and_the_rest_indexed(solr, core):
    config = sink_config(solr, core)
    records = [("k%d" % i, _doc(n_i=str(i))) for i in range(12)]
    records[4] = ("k4", _doc(n_i="not a number"))  # Solr names the document: [doc=k4]
    records[9] = ("k9", _doc(n_i="9", child={"n_i": "1"}))  # a child document without an id: [doc=null]
    [result] = write(config, bundle("orders", records))

    assert sorted(f.offset for f in result.failed) == [4, 9]
    failed = {f.offset: f for f in result.failed}
    assert "Error adding field 'n_i'='not a number'" in failed[4].reason
    assert "missing required field: id" in failed[9].reason
    assert (failed[4].key, failed[4].value) == (b"k4", records[4][1].encode())  # raw, for the DLQ
    indexed = solr.get(core, ["k%d" % i for i in range(12)])
    assert sorted(indexed) == sorted("k%d" % i for i in range(12) if i not in (4, 9))
    assert result.records == 10


def test_commit_within_makes_documents_searchable(solr, core):
    write(sink_config(solr, core), bundle("orders", [("a", _doc())]))
    assert solr.search(core) == []  # in the update log, not yet searchable (no soft commits here)
    assert list(solr.get(core, ["a"])) == ["a"]

    write(sink_config(solr, core, **{"solr.commit.within": "300"}),
          bundle("orders", [("b", _doc())], start=1))
    deadline = time.monotonic() + 10
    while len(solr.search(core)) < 2:
        assert time.monotonic() < deadline, "commitWithin=300 made nothing searchable in 10 s"
        time.sleep(0.1)
    assert [d["id"] for d in solr.search(core)] == ["a", "b"]


def test_records_go_to_the_core_their_topic_names_with_the_base_url(solr, new_core):
    first, second = new_core(), new_core()
    config = sink_config(solr)  # Solr's base URL
    [result] = write(config, bundle("source", [("a", _doc()), ("b", _doc()), ("c", _doc())],
                                    topics=[first, second, first]))
    assert sorted(result.targets) == sorted([first, second])
    assert sorted(solr.get(first, ["a", "b", "c"])) == ["a", "c"]
    assert sorted(solr.get(second, ["a", "b", "c"])) == ["b"]

    [missing] = _expect_error(lambda: write(config, bundle("source", [("x", _doc())],
                                                           topics=["no-such-core"])))
    assert "Solr has no such core or handler at %s/no-such-core/schema/uniquekey (HTTP 404)" \
        % solr.url in missing


def test_check_refuses_wrong_credentials_naming_the_user_not_the_password(solr, core):
    sink = SolrSink()
    sink.check(sink_config(solr, core))
    sink.check(sink_config(solr))

    wrong = "not-" + solr.password
    for config in (sink_config(solr, core, **{"solr.password": wrong}),
                   sink_config(solr, **{"solr.password": wrong})):
        with pytest.raises(BeamConnectError) as raised:
            sink.check(config)
        assert re.search(r"Solr at \S+ refused the login of solr.username='%s' \(HTTP 401\)"
                         % solr.username, str(raised.value))
        assert wrong not in str(raised.value) and solr.password not in str(raised.value)
        assert wrong not in repr(config)
    anonymous = sink_config(solr, core, **{"solr.username": "", "solr.password": ""})
    with pytest.raises(BeamConnectError, match=re.escape(
            "asks for a login (HTTP 401) to read the schema of core %r: set solr.username and "
            "solr.password" % core)):
        sink.check(anonymous)


def test_check_names_the_fields_a_schema_lacks(solr, new_core):
    plain = new_core(PLAIN_CONFIGSET)
    with pytest.raises(BeamConnectError, match=re.escape(
            "core %r has no field __connect_topic, __connect_partition, __connect_offset" % plain)):
        SolrSink().check(sink_config(solr, plain))


def test_an_unreachable_solr_is_retriable_naming_the_url():
    from common.errors import RetriableError
    from pipelines.processes import free_ports
    from sinks.search.solr.client import SolrClient
    from sinks.search.solr.config import CONFIG_DEF, SolrSinkConfig
    from sinks.base import ConnectorContext

    url = "http://127.0.0.1:%d/solr/x" % free_ports(1)[0]
    config = SolrSinkConfig.from_values(CONFIG_DEF.parse({"solr.url": url,
                                                          "solr.retry.backoff.ms": "1"}),
                                        ConnectorContext("c"))
    with pytest.raises(RetriableError, match=re.escape(
            "could not reach Solr at %s/schema/uniquekey: Connection refused "
            "(6 tries, solr.max.retries=5)" % url)):
        SolrClient(config).unique_key("x")


def _context():
    from sinks.base import Mode, WriteContext
    from transforms.errors import ErrorPolicy

    return WriteContext(Mode.BATCH, errors=ErrorPolicy(tolerance="all"), connector_class="solr")


def _expect_error(call):
    with pytest.raises(BeamConnectError) as raised:
        call()
    return [str(raised.value)]


class _Proxy(http.server.ThreadingHTTPServer):
    """An HTTP proxy to a Solr node that answers update requests as ``plan`` says, then forwards them:
    a status (429 with ``Retry-After: 1``, or 503) answers without forwarding, ``"apply_then_503"``
    forwards the request and answers 503 instead of Solr's answer (an update applied, then lost);
    ``always`` answers every update request with that status. Each update's time and body is kept."""

    daemon_threads = True

    def __init__(self, solr, plan=(), always=None):
        super().__init__(("127.0.0.1", 0), _ProxyHandler)
        self.target = urllib.parse.urlsplit(solr.url)
        self.plan = list(plan)
        self.always = always
        self.updates = []  # (time.monotonic(), body)
        self.url = "http://127.0.0.1:%d%s" % (self.server_address[1], self.target.path)
        threading.Thread(target=self.serve_forever, daemon=True).start()

    def core_url(self, core):
        return "%s/%s" % (self.url, core)


class _ProxyHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def _handle(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        step = None
        if urllib.parse.urlsplit(self.path).path.endswith("/update"):
            self.server.updates.append((time.monotonic(), body))
            step = self.server.plan.pop(0) if self.server.plan else self.server.always
        if step == "apply_then_503":
            self._forward(body)
            step = 503
        if step is None:
            return self._reply(*self._forward(body))
        error = {"error": {"msg": "overloaded, try again", "code": step}}
        self._reply(step, "application/json", json.dumps(error).encode(),
                    {"Retry-After": "1"} if step == 429 else {})

    do_GET = do_POST = _handle

    def _forward(self, body):
        target = self.server.target
        connection = http.client.HTTPConnection(target.hostname, target.port, timeout=60)
        headers = {k: v for k, v in self.headers.items()
                   if k.lower() not in ("host", "content-length", "connection", "accept-encoding")}
        connection.request(self.command, self.path, body=body, headers=headers)
        response = connection.getresponse()
        data = response.read()
        connection.close()
        return response.status, response.getheader("Content-Type"), data

    def _reply(self, status, kind, data, headers=None):
        self.send_response(status)
        self.send_header("Content-Type", kind or "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)


def _through(proxy, solr, core, **keys):
    return sink_config(solr, core, **{"solr.url": proxy.core_url(core), **keys})


def test_429_and_503_from_an_overloaded_node_are_retried_and_the_documents_land(solr, core):
    proxy = _Proxy(solr, [429, 503])
    try:
        config = _through(proxy, solr, core, **{"solr.retry.backoff.ms": "1"})
        [result] = write(config, bundle("orders", [("a", _doc(n_i=1)), ("b", _doc(n_i=2)),
                                                   ("c", _doc(n_i=3))]))
    finally:
        proxy.shutdown()

    assert result.records == 3
    assert {i: d["n_i"] for i, d in solr.get(core, ["a", "b", "c"]).items()} == {
        "a": 1, "b": 2, "c": 3}
    [(first_at, body), (second_at, second), (_, third)] = proxy.updates
    assert body == second == third  # the same request, the same conditional versions, sent again
    assert second_at - first_at >= 0.95  # the 429's Retry-After: 1, not the 1 ms backoff


def test_a_resent_update_solr_had_applied_changes_nothing(solr, core):
    """The first update lands but its answer is a 503: the resend meets the versions it changed (409),
    the documents are read again and found holding their records, and nothing is written twice."""
    write(sink_config(solr, core), bundle("orders", [("a", _doc(n_i=0))]))
    before = solr.get(core, ["a"])["a"]["_version_"]
    proxy = _Proxy(solr, ["apply_then_503"])
    try:
        config = _through(proxy, solr, core, **{"solr.retry.backoff.ms": "1"})
        [result] = write(config, bundle("orders", [("a", _doc(n_i=1)), ("b", _doc(n_i=2))], start=1))
    finally:
        proxy.shutdown()

    assert result.records == 2
    assert len(proxy.updates) == 2  # applied (answered 503), resent (409), nothing left to send
    docs = solr.get(core, ["a", "b"])
    assert {i: (d["n_i"], d["__connect_offset"]) for i, d in docs.items()} == {
        "a": (1, 1), "b": (2, 2)}
    assert docs["a"]["_version_"] > before


def test_503_past_solr_max_retries_fails_the_bundle_as_retriable_naming_the_url(solr, core):
    proxy = _Proxy(solr, always=503)
    try:
        config = _through(proxy, solr, core, **{"solr.retry.backoff.ms": "1",
                                                 "solr.max.retries": "2"})
        with pytest.raises(RetriableError, match=re.escape(
                "Solr at %s/update failed to update core %r (HTTP 503): overloaded, try again "
                "(3 tries, solr.max.retries=2)" % (proxy.core_url(core), core))):
            write(config, bundle("orders", [("a", _doc(n_i=1))]))
    finally:
        proxy.shutdown()

    assert len(proxy.updates) == 3
    assert solr.get(core, ["a"]) == {}
