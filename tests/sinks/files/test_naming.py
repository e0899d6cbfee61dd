from sinks.files.naming import file_name, parse_file_name, parse_temp_name, temp_name


def test_confluent_file_name():
    assert file_name("orders", 3, 42, ".snappy.parquet") == "orders+3+0000000042.snappy.parquet"
    assert file_name("a.b-c", 0, 7, ".json", pad=3) == "a.b-c+0+007.json"
    assert file_name("t", 1, 12345678901, ".json") == "t+1+12345678901.json"


def test_parse_round_trip_with_plus_in_topic():
    name = file_name("we+ird", 12, 99, ".snappy.parquet")
    assert parse_file_name(name) == ("we+ird", 12, 99, ".snappy.parquet")
    assert parse_file_name("notes.txt") is None


def test_other_delimiter():
    name = file_name("t", 2, 5, ".json", delim="_")
    assert name == "t_2_0000000005.json"
    assert parse_file_name(name, delim="_") == ("t", 2, 5, ".json")


def test_temp_names_are_hidden_and_parse_back():
    tmp = temp_name("orders+3+0000000042.snappy.parquet", "abc123")
    assert tmp.startswith(".") and tmp.endswith(".tmp")
    assert parse_temp_name(tmp) == ("orders", 3, 42, ".snappy.parquet")
    assert parse_temp_name("orders+3+0000000042.snappy.parquet") is None
