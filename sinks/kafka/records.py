"""What the Kafka sink produces of a bundle: each kept record's target topic, key, value, timestamp
and headers, the key and value written as ``kafka.key.format``/``kafka.value.format`` say.

``raw`` writes the bytes as read (the config refuses transforms that edit what it writes);
``string`` and ``json`` are :func:`sinks.encoding.encode`'s; ``avro``, ``json_sr`` and ``protobuf``
are written by a :class:`~sinks.kafka.payloads.RegistrySerializer` in Confluent's wire format. A null stays null (a
tombstone stays a tombstone).
"""

from __future__ import annotations

from typing import List, Mapping, Optional, Tuple

from common.errors import BeamConnectError
from sinks.encoding import encode
from transforms.kafka.producer import ProducerRecord
from transforms.records import ConvertedBundle


def producer_records(bundle: ConvertedBundle, key_format: str, value_format: str,
                     serializers: Optional[Mapping[str, object]] = None
                     ) -> List[Tuple[str, ProducerRecord]]:
    """``(target topic, record)`` of every kept record of ``bundle``, in order.

    Args:
      bundle: The records.
      key_format: ``kafka.key.format``.
      value_format: ``kafka.value.format``.
      serializers: ``{"keys": ..., "values": ...}``: the
        :class:`~sinks.kafka.payloads.RegistrySerializer` of each part written with a registry.

    Raises:
      BeamConnectError: ``raw`` is asked for but the bundle carries no raw records.
      RejectedRecord: records that a registry format cannot write.
      RegistryUnavailable: the Schema Registry could not answer (retriable).
    """
    keys = _column(bundle, "keys", key_format, serializers)
    values = _column(bundle, "values", value_format, serializers)
    return [(bundle.topic_of(i), ProducerRecord(keys[i], values[i], bundle.timestamps[i],
                                                list(bundle.headers[i]) if bundle.headers[i] else None))
            for i in range(len(bundle))]


def _column(bundle: ConvertedBundle, name: str, fmt: str, serializers) -> list:
    if serializers and serializers.get(name) is not None:
        return serializers[name].column(bundle)
    if fmt == "raw":
        if bundle.raw is None or bundle.rows is None:
            raise BeamConnectError("kafka.%s.format=raw needs the records as read, which bundle of "
                                   "topic=%s partition=%d does not carry"
                                   % (name[:-1], bundle.topic, bundle.partition))
        raw = getattr(bundle.raw, name)
        return [raw[row] for row in bundle.rows]
    return [encode(v, fmt) for v in getattr(bundle, name).to_pylist()]
