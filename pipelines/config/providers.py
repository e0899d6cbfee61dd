"""Kafka's config providers in connector configs: ``${file:...}``, ``${env:...}``, ``${dir:...}``.

Kafka Connect resolves variables of the form ``${provider:[path:]key}`` in config values with the
providers the config names (KIP-297, KIP-421, KIP-887)::

    config.providers=file,env,dir
    config.providers.file.class=org.apache.kafka.common.config.provider.FileConfigProvider
    config.providers.env.class=org.apache.kafka.common.config.provider.EnvVarConfigProvider
    config.providers.dir.class=org.apache.kafka.common.config.provider.DirectoryConfigProvider
    connection.password=${file:/etc/creds/db.properties:password}
    connection.user=${env:DB_USER}
    ssl.key.password=${dir:/run/secrets:key-password}

- ``FileConfigProvider``: ``path`` is a Java properties file, ``key`` one of its keys.
- ``DirectoryConfigProvider``: ``path`` is a directory, ``key`` a file in it; the value is the file's
  whole content (as Kafka reads it: nothing trimmed).
- ``EnvVarConfigProvider``: no ``path``; ``key`` is an environment variable.

Their parameters are Kafka's: ``config.providers.<name>.param.allowed.paths`` (file, dir: the
comma-separated directories paths must lie in, KIP-993) and ``...param.allowlist.pattern`` (env: a
regular expression variable names must match). The class may be left out for the names ``file``,
``env`` and ``dir``, which then mean those providers.

Decisions where Kafka is lenient: Kafka leaves a variable it cannot resolve in the value as written,
which then fails later with a confusing message or, worse, is used as a password. Here a variable
naming a provider that ``config.providers`` does not list, a missing file, variable or key, or a path
outside ``allowed.paths`` is a :class:`~common.errors.ConfigError` naming the config key, the provider
and the path or variable, never the value. Every resolved value is treated as a secret
(:mod:`common.secrets`): it is hidden in logs, errors and output. Custom provider classes (Vault,
AWS Secrets Manager...) are Java classes and are refused by name.
"""

from __future__ import annotations

import os
import re
from typing import Callable, Dict, Mapping, Optional, Tuple

from common.errors import ConfigError

PREFIX = "config.providers"
_PACKAGE = "org.apache.kafka.common.config.provider."
# Kafka's ConfigTransformer.DEFAULT_PATTERN: ${provider:[path:]key}
_VARIABLE = re.compile(r"\$\{([^}]*?):(([^}]*?):)?([^}]*?)\}")


def _file_provider(params: Mapping[str, str], name: str) -> Callable:
    allowed = _allowed_paths(params, name)

    def get(config_key: str, path: Optional[str], key: str) -> str:
        path = _checked_path(config_key, name, path, allowed)
        from pipelines.config.loader import parse_properties

        try:
            with open(path, encoding="utf-8") as file:
                values = parse_properties(file.read())
        except OSError as exc:
            raise ConfigError("%s: ${%s:%s:...}: the file cannot be read: %s"
                              % (config_key, name, path, exc.strerror or type(exc).__name__)) from None
        if key not in values:
            raise ConfigError("%s: ${%s:%s:%s}: the file has no key %r"
                              % (config_key, name, path, key, key))
        return values[key]
    return get


def _dir_provider(params: Mapping[str, str], name: str) -> Callable:
    allowed = _allowed_paths(params, name)

    def get(config_key: str, path: Optional[str], key: str) -> str:
        path = _checked_path(config_key, name, path, allowed)
        if not os.path.isdir(path):
            raise ConfigError("%s: ${%s:%s:%s}: %r is not a directory" % (config_key, name, path, key, path))
        if os.sep in key or key in ("", ".", ".."):
            raise ConfigError("%s: ${%s:%s:%s}: the key must be a file name in the directory"
                              % (config_key, name, path, key))
        target = os.path.join(path, key)
        try:
            with open(target, encoding="utf-8") as file:
                return file.read()
        except OSError as exc:
            raise ConfigError("%s: ${%s:%s:%s}: the file cannot be read: %s"
                              % (config_key, name, path, key, exc.strerror or type(exc).__name__)) from None
    return get


def _env_provider(params: Mapping[str, str], name: str) -> Callable:
    pattern_text = params.get("allowlist.pattern")
    try:
        pattern = re.compile(pattern_text) if pattern_text else None
    except re.error as exc:
        raise ConfigError("%s.%s.param.allowlist.pattern must be a regular expression, got %r: %s"
                          % (PREFIX, name, pattern_text, exc)) from None

    def get(config_key: str, path: Optional[str], key: str) -> str:
        if path:
            raise ConfigError("%s: ${%s:%s:%s}: the environment provider takes no path; write ${%s:%s}"
                              % (config_key, name, path, key, name, key))
        if pattern is not None and not pattern.fullmatch(key):
            raise ConfigError("%s: ${%s:%s}: %r does not match %s.%s.param.allowlist.pattern %r"
                              % (config_key, name, key, key, PREFIX, name, pattern_text))
        if key not in os.environ:
            raise ConfigError("%s: ${%s:%s}: the environment has no variable %r"
                              % (config_key, name, key, key))
        return os.environ[key]
    return get


#: Provider class -> (factory, its parameters).
PROVIDERS = {
    _PACKAGE + "FileConfigProvider": (_file_provider, ("allowed.paths",)),
    _PACKAGE + "DirectoryConfigProvider": (_dir_provider, ("allowed.paths",)),
    _PACKAGE + "EnvVarConfigProvider": (_env_provider, ("allowlist.pattern",)),
}
_BY_NAME = {"file": _PACKAGE + "FileConfigProvider", "dir": _PACKAGE + "DirectoryConfigProvider",
            "env": _PACKAGE + "EnvVarConfigProvider"}


def _allowed_paths(params: Mapping[str, str], name: str) -> Tuple[str, ...]:
    text = params.get("allowed.paths", "")
    paths = tuple(os.path.realpath(p.strip()) for p in text.split(",") if p.strip())
    for path in paths:
        if not os.path.isabs(path):
            raise ConfigError("%s.%s.param.allowed.paths must hold absolute paths, got %r"
                              % (PREFIX, name, text))
    return paths


def _checked_path(config_key: str, name: str, path: Optional[str], allowed: Tuple[str, ...]) -> str:
    if not path:
        raise ConfigError("%s: ${%s:...}: this provider needs a path: ${%s:PATH:KEY}"
                          % (config_key, name, name))
    real = os.path.realpath(path)
    if allowed and not any(real == a or real.startswith(a.rstrip(os.sep) + os.sep) for a in allowed):
        raise ConfigError("%s: ${%s:%s:...}: the path is not in %s.%s.param.allowed.paths"
                          % (config_key, name, path, PREFIX, name))
    return path


def resolve_config_providers(raw: Mapping[str, str]) -> Tuple[Dict[str, str], Tuple[str, ...]]:
    """Resolves every ``${provider:[path:]key}`` in ``raw``'s values.

    Returns:
      The config without its ``config.providers*`` keys and with the variables replaced, and the
      resolved values (secrets, for :func:`common.secrets.register`).

    Raises:
      ConfigError: a provider is unknown or misconfigured, or a variable cannot be resolved.
    """
    names = [n.strip() for n in raw.get(PREFIX, "").split(",") if n.strip()]
    providers: Dict[str, Callable] = {}
    own = {PREFIX}
    for name in names:
        class_key = "%s.%s.class" % (PREFIX, name)
        own.add(class_key)
        class_name = raw.get(class_key, "").strip() or _BY_NAME.get(name, "")
        if not class_name:
            raise ConfigError("%s is required for the provider %r named in %s" % (class_key, name, PREFIX))
        if class_name not in PROVIDERS:
            raise ConfigError("%s must be one of %s, got %r: other providers are Java classes, which "
                              "cannot be loaded here" % (class_key, ", ".join(map(repr, PROVIDERS)),
                                                         class_name))
        factory, allowed_params = PROVIDERS[class_name]
        param_prefix = "%s.%s.param." % (PREFIX, name)
        params = {}
        for key, value in raw.items():
            if key.startswith(param_prefix):
                own.add(key)
                param = key[len(param_prefix):]
                if param not in allowed_params:
                    raise ConfigError("%s is not a parameter of %s; it takes %s"
                                      % (key, class_name.rpartition(".")[2],
                                         ", ".join(map(repr, allowed_params))))
                params[param] = value
        providers[name] = factory(params, name)
    for key in raw:
        if key.startswith(PREFIX + ".") and key not in own:
            raise ConfigError("%s names a provider that %s does not list (it lists %s)"
                              % (key, PREFIX, ", ".join(map(repr, names)) or "none"))
    resolved: Dict[str, str] = {}
    secrets = []
    for key, value in raw.items():
        if key in own:
            continue
        if "${" in value:
            value = _substitute(key, value, providers, secrets)
        resolved[key] = value
    return resolved, tuple(secrets)


def _substitute(config_key: str, value: str, providers: Mapping[str, Callable], secrets: list) -> str:
    def replace(match: re.Match) -> str:
        name, path, key = match.group(1), match.group(3), match.group(4)
        if name not in providers:
            raise ConfigError("%s refers to the config provider %r (${%s:...}), which %s does not list%s"
                              % (config_key, name, name, PREFIX,
                                 " (it lists %s)" % ", ".join(map(repr, providers)) if providers
                                 else "; set %s=%s and %s.%s.class" % (PREFIX, name, PREFIX, name)))
        found = providers[name](config_key, path, key)
        secrets.append(found)
        return found
    return _VARIABLE.sub(replace, value)
