"""Connector configs: reading config files and declaring, parsing and checking config keys."""

from common.configdef import NO_DEFAULT, ConfigDef, ConfigKey, check_unknown
from common.errors import BeamConnectError, ConfigError
from pipelines.config.loader import load_config, parse_properties

__all__ = [
    "BeamConnectError",
    "ConfigDef",
    "ConfigError",
    "ConfigKey",
    "NO_DEFAULT",
    "check_unknown",
    "load_config",
    "parse_properties",
]
