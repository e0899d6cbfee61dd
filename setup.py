"""beamconnect: Kafka Connect sink connectors as Apache Beam pipelines, in pure Python."""

from setuptools import find_packages, setup

setup(
    name="beamconnect",
    version="0.1.0",
    description="Kafka Connect-style sink connectors as Apache Beam pipelines, without a JVM",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    python_requires=">=3.10",
    packages=find_packages(include=["common", "common.*", "pipelines", "pipelines.*", "transforms", "transforms.*",
                                    "sinks", "sinks.*"]),
    install_requires=[
        "apache-beam>=2.60,<3",
        "confluent-kafka>=2.6,<3",
        "pyarrow>=14,<26",
        "fastavro>=1.9,<2",
        # cramjam and backports.zstd: the snappy and zstandard codecs of Avro files (fastavro's choice)
        "cramjam>=2.7,<3",
        "backports.zstd>=1.0; python_version<'3.14'",
        "google-cloud-storage>=2.14,<4",
        # orjson: JSON parsing several times faster than the standard library on the per-record paths
        "orjson>=3.9,<4",
        # prometheus-client: the --metrics-port exposition (Prometheus's own Python client)
        "prometheus-client>=0.20,<1",
    ],
    extras_require={
        # Runners and sink families declare their client libraries here ([aws], [jdbc], ... to come).
        "gcp": ["apache-beam[gcp]>=2.60,<3"],  # DataflowRunner and Flex Templates
        # Beam's Dask runner and dask.distributed: tasks.max on a cluster of many machines, a
        # distributed engine that runs (and is tested) here too
        "dask": ["apache-beam[dask]>=2.60,<3"],
        "aws": ["boto3>=1.34,<2"],  # the file sink's s3:// stores
        # the file sink's HDFS stores: fsspec's WebHDFS client (HttpFS, delegation tokens, Kerberos)
        "hdfs": ["fsspec>=2024.2"],
        "hdfs-kerberos": ["fsspec>=2024.2", "requests-gssapi>=1.3,<2"],
        # the file sink's Azure Blob stores: Microsoft's own SDK (block lists, conditional requests)
        "azure": ["azure-storage-blob>=12.25,<13"],
        # the JDBC sink: SQLAlchemy Core (dialects, reflection, quoting), psycopg 3 (COPY) and PyMySQL
        "jdbc": ["sqlalchemy>=2.0,<2.2", "psycopg[binary]>=3.1,<4", "pymysql>=1.1,<2"],
        # the NATS JetStream sink: the official asyncio client (nkeys too for nats.creds.file)
        "nats": ["nats-py>=2.16,<3"],
        # the RabbitMQ sink: pika, the client RabbitMQ's own tutorials use (publisher confirms)
        "rabbitmq": ["pika>=1.3,<2"],
        # the ActiveMQ sink: stomp.py (STOMP 1.2, Classic and Artemis) and Qpid Proton (AMQP 1.0)
        "activemq": ["stomp.py>=8.1,<10", "python-qpid-proton>=0.39,<0.41"],
        # the MQTT sink: Eclipse Paho, the reference client (MQTT 5 user properties, PUBACK reason codes)
        "mqtt": ["paho-mqtt>=2.0,<3"],
        # the Redis Streams sink: redis-py, Redis's own client (pipelines, Lua scripts)
        "redis": ["redis>=5.0,<9"],
        # the Elasticsearch sink: the official clients, opensearch-py for OpenSearch and
        # elasticsearch-py for Elasticsearch (whose product check refuses OpenSearch)
        "elasticsearch": ["opensearch-py>=2.4,<4", "elasticsearch>=8.13,<10"],
        # the Solr sink speaks Solr's JSON update API over HTTP with requests
        "solr": ["requests>=2.28,<3"],
        # Schema Registry converters (AvroConverter): confluent-kafka's own registry client
        "schema-registry": ["confluent-kafka[schemaregistry]>=2.6,<3",
                            # ProtobufConverter: protoc for .proto text, and google/type/*.proto
                            "grpcio-tools>=1.70,<1.80", "googleapis-common-protos>=1.60,<2",
                            # AvroConverter: a batch of one flat schema decoded as one Avro block
                            # into Arrow by polars' Rust reader, several times faster than fastavro
                            "polars>=1.0,<3"],
        # the MongoDB sink: pymongo, MongoDB's own driver (bulk writes, per-operation errors)
        "mongodb": ["pymongo>=4.20,<5"],
        # the Cassandra sink: the DataStax driver (prepared statements, execute_concurrent, token-aware
        # load balancing), the one DataStax's own connector is built on in Java
        "cassandra": ["cassandra-driver>=3.29,<4"],
        # The suite's object stores are real servers from PyPI: moto's S3 server and a GCS emulator.
        "test": ["pytest>=8", "moto[server]>=5,<6", "gcp-storage-emulator>=2024.8"],
    },
    entry_points={"console_scripts": ["beamconnect=pipelines.cli:main"]},
)
