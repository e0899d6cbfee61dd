"""Kafka's config providers (file, env, dir) in connector configs, and their values kept out of output."""

import re

import pytest

from common import secrets
from common.errors import ConfigError
from pipelines.cli import main
from pipelines.config.providers import resolve_config_providers

FILE = "org.apache.kafka.common.config.provider.FileConfigProvider"


def test_file_env_and_dir_variables_resolve(tmp_path, monkeypatch):
    creds = tmp_path / "creds.properties"
    creds.write_text("user=orders\npassword=pr0vided-Secret\n")
    (tmp_path / "keys").mkdir()
    (tmp_path / "keys" / "token").write_text("t0ken-from-dir\n")
    monkeypatch.setenv("BC_TEST_DB", "db.example")
    raw = {"config.providers": "file,env,dir", "config.providers.file.class": FILE,
           "config.providers.env.class": "org.apache.kafka.common.config.provider.EnvVarConfigProvider",
           "config.providers.dir.param.allowed.paths": str(tmp_path),
           "connection.url": "jdbc:postgresql://${env:BC_TEST_DB}/shop",
           "connection.user": "${file:%s:user}" % creds,
           "connection.password": "${file:%s:password}" % creds,
           "token": "${dir:%s:token}" % (tmp_path / "keys"), "plain": "no variables"}

    resolved, found = resolve_config_providers(raw)

    assert resolved == {"connection.url": "jdbc:postgresql://db.example/shop",
                        "connection.user": "orders", "connection.password": "pr0vided-Secret",
                        "token": "t0ken-from-dir\n", "plain": "no variables"}
    assert set(found) == {"db.example", "orders", "pr0vided-Secret", "t0ken-from-dir\n"}


@pytest.mark.parametrize("extra, message", [
    ({"v": "${vault:secret/db:pw}"},
     "v refers to the config provider 'vault' (${vault:...}), which config.providers does not list "
     "(it lists 'file')"),
    ({"v": "${file:%(dir)s/missing.properties:pw}"}, "v: ${file:%(dir)s/missing.properties:...}: the "
                                                     "file cannot be read: No such file or directory"),
    ({"v": "${file:%(dir)s/c.properties:nope}"}, "v: ${file:%(dir)s/c.properties:nope}: the file has "
                                                 "no key 'nope'"),
    ({"config.providers.file.param.allowed.paths": "/nowhere", "v": "${file:%(dir)s/c.properties:pw}"},
     "v: ${file:%(dir)s/c.properties:...}: the path is not in config.providers.file.param.allowed.paths"),
    ({"config.providers.file.param.colour": "red"},
     "config.providers.file.param.colour is not a parameter of FileConfigProvider; it takes "
     "'allowed.paths'"),
    ({"config.providers.file.class": "com.example.VaultProvider"},
     "config.providers.file.class must be one of"),
    ({"config.providers.env.class": FILE}, "config.providers.env.class names a provider that "
                                           "config.providers does not list (it lists 'file')"),
])
def test_bad_provider_settings_and_variables_name_the_key_not_the_value(tmp_path, extra, message):
    (tmp_path / "c.properties").write_text("pw=hunter2-secret\n")
    raw = {"config.providers": "file", **{k: v % {"dir": tmp_path} for k, v in extra.items()}}
    with pytest.raises(ConfigError, match=re.escape(message % {"dir": tmp_path})) as caught:
        resolve_config_providers(raw)
    assert "hunter2-secret" not in str(caught.value)


def test_missing_environment_variable(monkeypatch):
    monkeypatch.delenv("BC_TEST_UNSET", raising=False)
    with pytest.raises(ConfigError, match=re.escape(
            "connection.password: ${env:BC_TEST_UNSET}: the environment has no variable 'BC_TEST_UNSET'")):
        resolve_config_providers({"config.providers": "env",
                                  "connection.password": "${env:BC_TEST_UNSET}"})


def test_a_provided_value_never_reaches_the_output(tmp_path, capsys):
    """A value from a provider (here the store path, which validate prints) is hidden everywhere the
    CLI writes, and so is a password key's value that shows up in an error."""
    secret_dir = tmp_path / "s3kr1t-output-dir"
    (tmp_path / "c.properties").write_text("out=%s\n" % secret_dir)
    path = tmp_path / "connector.properties"
    path.write_text("\n".join([
        "name=c1", "connector.class=files", "topics=a", "format.class=parquet", "flush.size=10",
        "config.providers=file", "store.url=${file:%s:out}" % (tmp_path / "c.properties"),
        "errors.tolerance=all", "errors.deadletterqueue.store.url=${file:%s:out}/dlq"
        % (tmp_path / "c.properties")]))

    assert main(["validate", str(path)]) == 0
    out = capsys.readouterr()
    assert "s3kr1t-output-dir" not in out.out + out.err
    assert "[hidden]" in out.out
    assert "s3kr1t-output-dir" in "".join(secrets.known())
