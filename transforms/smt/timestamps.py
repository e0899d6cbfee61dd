"""Kafka Connect's TimestampConverter and TimestampRouter.

TimestampConverter converts the whole key or value, or one top-level ``field`` of it, between epoch
numbers (``unix``, in ``unix.precision``), strings (``string``, written and read with ``format``, a
``SimpleDateFormat`` pattern, in UTC) and Connect's ``Date``, ``Time`` and ``Timestamp``. As in Connect,
the source kind comes from the schema (a Timestamp, Date or Time, else a string, else an int64 is epoch
time) or, schemaless, from the value (a timestamp, an int64, a string); instants keep millisecond
precision; a Date is the instant's UTC day, a Time its time of day. Kafka Connect 4.1 has no nested
``field`` paths for this transform (no ``field.syntax.version``): ``field`` names a top-level field.

TimestampRouter sets each record's target topic from ``topic.format`` (``${topic}-${timestamp}``),
replacing ``${topic}`` by the record's current target topic and then ``${timestamp}`` by its timestamp
written with ``timestamp.format`` (``yyyyMMdd``) in UTC.
"""

from __future__ import annotations

import dataclasses
from typing import Optional

import numpy as np
import pyarrow as pa

from common.configdef import NO_DEFAULT, ConfigDef, ConfigKey
from common.errors import ConfigError, DataError
from transforms.records import ConvertedBundle
from transforms.schema import DATE, TIME, TIMESTAMP, connect_field, schema_info
from transforms.smt.base import FieldTransformation, Transformation, Transformed, fail, names
from transforms.smt.columns import (
    REPLACE_NULL_WITH_DEFAULT, RowErrors, connect_type, java_class, non_null, not_object_message,
    rebuild_struct, require_objects, struct_children)
from transforms.smt.dateformat import MILLIS_PER_DAY, DateFormat, as_timestamps

FIELD = "field"
TARGET_TYPE = "target.type"
FORMAT = "format"
UNIX_PRECISION = "unix.precision"
TOPIC_FORMAT = "topic.format"
TIMESTAMP_FORMAT = "timestamp.format"

STRING, UNIX, DATE_TYPE, TIME_TYPE, TIMESTAMP_TYPE = "string", "unix", "Date", "Time", "Timestamp"
_PRECISIONS = {"seconds": 1000, "milliseconds": 1, "microseconds": 1000, "nanoseconds": 1_000_000}
_PURPOSE = "converting timestamp formats"
_LONG_MIN, _LONG_MAX = -(1 << 63), (1 << 63) - 1

_ARROW_TYPES = {STRING: pa.string(), UNIX: pa.int64(), DATE_TYPE: pa.date32(),
                TIME_TYPE: pa.time32("ms"), TIMESTAMP_TYPE: pa.timestamp("ms", "UTC")}
_LOGICAL_NAMES = {DATE_TYPE: DATE, TIME_TYPE: TIME, TIMESTAMP_TYPE: TIMESTAMP}


class ConnectError(DataError):
    """An error Connect raises as a plain ConnectException (an unknown timestamp schema)."""

    java_class = "org.apache.kafka.connect.errors.ConnectException"


def _trunc_div(values: np.ndarray, divisor: int) -> np.ndarray:
    """Java's long division, toward zero (``TimeUnit.X.toMillis``)."""
    quotient = np.floor_divide(values, divisor)
    return quotient + ((values % divisor != 0) & (values < 0))


def _saturated_mul(values: np.ndarray, factor: int) -> np.ndarray:
    """Java's ``TimeUnit`` scaling up: saturates at the long range."""
    if factor == 1:
        return values
    limit = _LONG_MAX // factor
    with np.errstate(over="ignore"):
        return np.where(values > limit, _LONG_MAX,
                        np.where(values < -limit, _LONG_MIN, values * factor))


def _numpy(values: pa.Array) -> tuple[np.ndarray, Optional[np.ndarray]]:
    mask = np.asarray(values.is_null()) if values.null_count else None
    return np.asarray(values.fill_null(0) if values.null_count else values), mask


class TimestampConverter(FieldTransformation):
    """Converts a timestamp of the key or value, or of one of its fields, to another kind.

    Keys: ``target.type`` (required: ``string``, ``unix``, ``Date``, ``Time``, ``Timestamp``),
    ``field`` (empty: the whole key or value), ``format`` (a SimpleDateFormat pattern, required for
    strings), ``unix.precision`` (``milliseconds``), ``replace.null.with.default`` (true).
    """

    config_def = ConfigDef([
        ConfigKey(FIELD, "string", "",
                  doc="The field containing the timestamp, or empty if the entire value is a "
                      "timestamp."),
        ConfigKey(TARGET_TYPE, "string", NO_DEFAULT,
                  choices=(STRING, UNIX, DATE_TYPE, TIME_TYPE, TIMESTAMP_TYPE),
                  doc="The desired timestamp representation: string, unix, Date, Time, or Timestamp."),
        ConfigKey(FORMAT, "string", "",
                  doc="A SimpleDateFormat-compatible format for the timestamp, to write strings "
                      "(target.type=string) or read them."),
        ConfigKey(UNIX_PRECISION, "string", "milliseconds", choices=tuple(_PRECISIONS),
                  doc="The precision of unix timestamps written or read: seconds, milliseconds, "
                      "microseconds or nanoseconds."),
        REPLACE_NULL_WITH_DEFAULT,
    ])

    def configure(self, config) -> None:
        self.field = config[FIELD]
        self.target = config[TARGET_TYPE]
        self.precision = config[UNIX_PRECISION]
        self.replace_null_with_default = config[REPLACE_NULL_WITH_DEFAULT.name]
        pattern = config[FORMAT]
        if self.target == STRING and not pattern.strip():
            raise ConfigError("%s%s is required when %s%s is 'string', got %r: TimestampConverter "
                              "requires format option to be specified when using string timestamps"
                              % (self.prefix, FORMAT, self.prefix, TARGET_TYPE, pattern))
        self.format = DateFormat(pattern, self.prefix + FORMAT) if pattern.strip() else None

    def _type_field(self, name: str, optional: bool) -> pa.Field:
        """The schema of a converted value (``typeSchema``): the target type, nothing else."""
        logical = _LOGICAL_NAMES.get(self.target)
        return connect_field(name, _ARROW_TYPES[self.target], optional, schema_name=logical,
                             version=1 if logical else None)

    def transform(self, array: pa.Array, schema: Optional[pa.Field],
                  bundle: ConvertedBundle) -> tuple[pa.Array, Optional[pa.Field], list]:
        errors = RowErrors(len(array))
        if not self.field:
            out = self._convert(array, schema, errors)
            schema = None if schema is None else self._type_field(schema.name, schema.nullable)
        elif schema is None:
            out = self._convert_schemaless_field(array, errors)
        else:
            out, schema = self._convert_field(array, schema, errors)
        return errors.result(out, schema)

    def _convert_schemaless_field(self, array: pa.Array, errors: RowErrors) -> pa.Array:
        if not require_objects(errors, array, False, _PURPOSE):
            return array
        children, fields = array.flatten(), list(array.type)
        field_names = [f.name for f in fields]
        if self.field in field_names:
            i = field_names.index(self.field)
            children[i] = self._convert(children[i], None, errors)
            fields[i] = pa.field(self.field, children[i].type)
        else:  # Connect puts the missing field, null
            children.append(pa.nulls(len(array), _ARROW_TYPES[self.target]))
            fields.append(pa.field(self.field, _ARROW_TYPES[self.target]))
        return rebuild_struct(array, fields, children)

    def _convert_field(self, array: pa.Array, schema: pa.Field, errors: RowErrors):
        if not pa.types.is_struct(schema.type):
            errors.add(non_null(array),
                       not_object_message(_PURPOSE, java_class(schema.type, True), True))
            return array, schema
        out = self._convert_struct(array, schema, errors)
        info = schema_info(schema)
        default = None
        if info.default is not None:
            default_errors = RowErrors(1)
            converted = self._convert_struct(pa.array([info.default], schema.type), schema,
                                             default_errors)
            if default_errors:  # Connect fails building the schema: every record fails
                errors.add(non_null(array), default_errors.failures()[0][1])
            else:
                default = converted[0].as_py()
        return out, connect_field(schema.name, out.type, schema.nullable, schema_name=info.name,
                                  version=info.version, doc=info.doc, parameters=info.parameters,
                                  default=default)

    def _convert_struct(self, array: pa.StructArray, schema: pa.Field, errors: RowErrors):
        fields = list(schema.type)
        children = struct_children(array, fields, self.replace_null_with_default)
        for i, field in enumerate(fields):
            if field.name == self.field:
                # Connect reads the field's schema even where the field is null.
                children[i] = self._convert(children[i], field, errors, every=non_null(array))
                fields[i] = self._type_field(field.name, field.nullable)
        return rebuild_struct(array, fields, children)

    # ---------------------------------------------------------------------------------- converting

    def _convert(self, values: pa.Array, schema: Optional[pa.Field], errors: RowErrors,
                 every: Optional[np.ndarray] = None) -> pa.Array:
        """``values`` converted to the target type; ``schema`` None for schemaless values."""
        source = self._source(values.type, schema)
        if isinstance(source, DataError):
            errors.add(non_null(values) if every is None else every, source)
            return pa.nulls(len(values), _ARROW_TYPES[self.target])
        if source is None:
            return pa.nulls(len(values), _ARROW_TYPES[self.target])
        millis = self._to_millis(values, source, errors)
        return self._from_millis(millis)

    def _source(self, arrow_type: pa.DataType, schema: Optional[pa.Field]):
        """The kind of timestamp a column holds, None for an all-null column, or the error."""
        t, schemaless = arrow_type, schema is None
        if pa.types.is_timestamp(t):
            return TIMESTAMP_TYPE
        if pa.types.is_date32(t):
            return TIMESTAMP_TYPE if schemaless else DATE_TYPE  # a java.util.Date either way
        if pa.types.is_time32(t):
            return TIMESTAMP_TYPE if schemaless else TIME_TYPE
        if pa.types.is_string(t) or pa.types.is_large_string(t):
            return STRING
        if t == pa.int64():
            return UNIX
        if pa.types.is_null(t):
            return None
        if schemaless:
            return DataError("TimestampConverter does not support class %s objects as timestamps"
                             % java_class(t))
        name = schema_info(schema).name  # as ConnectSchema.toString writes it
        return ConnectError("Schema Schema{%s%s} does not correspond to a known timestamp type "
                            "format" % ("" if name is None else name + ":", connect_type(t)))

    def _to_millis(self, values: pa.Array, source: str, errors: RowErrors) -> pa.Array:
        if source == STRING:
            if self.format is None:
                errors.add(non_null(values), "TimestampConverter requires format option to be "
                                             "specified when using string timestamps")
                return pa.nulls(len(values), pa.int64())
            millis = self.format.parse(values)
            bad = non_null(values) & ~non_null(millis)
            if bad.any():
                errors.add(bad, lambda row: "Could not parse timestamp: value (%s) does not match "
                                            "pattern (%s)" % (values[row].as_py(), self.format.pattern))
            return millis
        if source == UNIX:
            numbers, mask = _numpy(values)
            scale = _PRECISIONS[self.precision]
            numbers = (_saturated_mul(numbers, scale) if self.precision == "seconds"
                       else _trunc_div(numbers, scale))
            return pa.array(numbers, pa.int64(), mask=mask)
        return as_timestamps(values).cast(pa.int64())

    def _from_millis(self, millis: pa.Array) -> pa.Array:
        if self.target == STRING:
            return self.format.format(millis)
        if self.target == TIMESTAMP_TYPE:
            return millis.cast(pa.timestamp("ms", "UTC"))
        numbers, mask = _numpy(millis)
        if self.target == UNIX:
            scale = _PRECISIONS[self.precision]
            numbers = (_trunc_div(numbers, scale) if self.precision == "seconds"
                       else _saturated_mul(numbers, scale))
            return pa.array(numbers, pa.int64(), mask=mask)
        if self.target == DATE_TYPE:
            days = np.floor_divide(numbers, MILLIS_PER_DAY).astype(np.int32)
            return pa.array(days, pa.int32(), mask=mask).cast(pa.date32())
        of_day = np.mod(numbers, MILLIS_PER_DAY).astype(np.int32)
        return pa.array(of_day, pa.int32(), mask=mask).cast(pa.time32("ms"))


class TimestampRouter(Transformation):
    """Routes each record to a topic named from its current topic and its timestamp.

    Keys: ``topic.format`` (``${topic}-${timestamp}``), ``timestamp.format`` (``yyyyMMdd``, a
    SimpleDateFormat pattern, in UTC).
    """

    config_def = ConfigDef([
        ConfigKey(TOPIC_FORMAT, "string", "${topic}-${timestamp}",
                  doc="Format string which can contain ${topic} and ${timestamp} as placeholders for "
                      "the topic and timestamp, respectively."),
        ConfigKey(TIMESTAMP_FORMAT, "string", "yyyyMMdd",
                  doc="Format string for the timestamp that is compatible with "
                      "java.text.SimpleDateFormat."),
    ])

    def configure(self, config) -> None:
        self.topic_format = config[TOPIC_FORMAT]
        self.timestamp_format = DateFormat(config[TIMESTAMP_FORMAT],
                                           self.prefix + TIMESTAMP_FORMAT)

    def apply(self, bundle: ConvertedBundle) -> Transformed:
        # A record without a timestamp (None, or Kafka's -1 for none) fails, as in Connect.
        missing = [i for i, t in enumerate(bundle.timestamps) if t is None or t == -1]
        failures = tuple((i, fail("Timestamp missing on record: %s" % bundle.record_ref(i)))
                         for i in missing)
        if failures:
            keep = sorted(set(range(len(bundle))) - set(missing))
            if not keep:
                return Transformed(None, failures)
            bundle = bundle.take(keep)
        # Few distinct stamps per bundle: name the topic once per stamp, then pick by code.
        stamps = self.timestamp_format.format(pa.array(bundle.timestamps, pa.int64()))
        stamps = stamps.dictionary_encode()
        distinct = stamps.dictionary.to_pylist()
        codes = stamps.indices.to_numpy()
        topics = np.empty(len(bundle), dtype=object)
        for topic, indices in bundle.by_topic():
            # ${topic} first, then ${timestamp}: a topic holding "${timestamp}" is replaced too.
            template = self.topic_format.replace("${topic}", topic)
            named = np.array([template.replace("${timestamp}", stamp) for stamp in distinct],
                             dtype=object)
            if indices is None:
                topics[:] = named[codes]
            else:
                topics[indices] = named[codes[indices]]
        topics = topics.tolist()
        return Transformed(dataclasses.replace(bundle, topics=topics), failures)


TRANSFORMATIONS = {**names("TimestampConverter", TimestampConverter),
                   **names("TimestampRouter", TimestampRouter, sides=False)}
