"""The Solr sink's write DoFn and check against a real Solr node: ids, deletes, conditional writes,
refused documents, commitWithin, and what check() refuses before a run."""

import json
import re
import time

import pytest

from common.errors import BeamConnectError
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
    config = SolrSinkConfig.from_values(CONFIG_DEF.parse({"solr.url": url}), ConnectorContext("c"))
    with pytest.raises(RetriableError, match=re.escape(
            "could not reach Solr at %s/schema/uniquekey: Connection refused" % url)):
        SolrClient(config).unique_key("x")


def _context():
    from sinks.base import Mode, WriteContext
    from transforms.errors import ErrorPolicy

    return WriteContext(Mode.BATCH, errors=ErrorPolicy(tolerance="all"), connector_class="solr")


def _expect_error(call):
    with pytest.raises(BeamConnectError) as raised:
        call()
    return [str(raised.value)]
