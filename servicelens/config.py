"""The one configuration file, validated by pydantic (unknown keys are errors, every error names its path).

Environment variables override the file: ``SERVICELENS_DATABASE_URL`` sets ``database.url``; any other
setting can be reached as ``SERVICELENS__SECTION__KEY`` (double underscores between path parts, values
parsed as YAML scalars).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import Field, ValidationError

from audits.config import AuditsConfig
from connectors.config import ConnectorList
from servicelens.strict import StrictModel
from sla.config import SlaConfig

DEFAULT_CONFIG_PATH = Path("servicelens.yaml")
EXAMPLE_CONFIG_PATH = Path(__file__).with_name("example_config.yaml")
DEFAULT_SQLITE_PATH = Path("data/servicelens.db")


class DatabaseSettings(StrictModel):
    url: str | None = Field(
        default=None, description="SQLAlchemy URL; empty means the embedded SQLite at data/servicelens.db"
    )

    def resolved_url(self) -> str:
        return self.url or f"sqlite:///{DEFAULT_SQLITE_PATH}"


class MetricsSettings(StrictModel):
    fcr_window_days: int = Field(
        default=7,
        ge=0,
        description="a new interaction from the same customer within this many days breaks FCR",
    )
    quantile_interpolation: str = Field(
        default="linear",
        pattern="^(linear|nearest|lower|higher|midpoint)$",
        description="how medians and percentiles interpolate (linear = SQL percentile_cont)",
    )


class DemoSettings(StrictModel):
    interactions: int = Field(default=50_000, ge=100, description="interactions `servicelens demo` writes")
    seed: int = Field(default=7, description="random seed of the demo organisation")
    out_dir: str = Field(default="data/demo_exports", description="folder the demo exports are written to")


class ServicelensConfig(StrictModel):
    database: DatabaseSettings = Field(default_factory=DatabaseSettings)
    metrics: MetricsSettings = Field(default_factory=MetricsSettings)
    demo: DemoSettings = Field(default_factory=DemoSettings)
    connectors: ConnectorList = Field(default_factory=list)
    sla: SlaConfig = Field(default_factory=SlaConfig)
    audits: AuditsConfig = Field(default_factory=AuditsConfig)


class ConfigError(Exception):
    """A config file that cannot be used. ``errors`` holds one ``path: message`` line per problem."""

    def __init__(self, source: str, errors: list[str]):
        self.source = source
        self.errors = errors
        super().__init__(f"{source}: {len(errors)} error(s)\n" + "\n".join(f"  {e}" for e in errors))


def format_location(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "(root)"


def _env_overrides(environ: Mapping[str, str]) -> dict[str, Any]:
    overrides: dict[str, Any] = {}
    if environ.get("SERVICELENS_DATABASE_URL"):
        overrides.setdefault("database", {})["url"] = environ["SERVICELENS_DATABASE_URL"]
    for key, raw in environ.items():
        if not key.startswith("SERVICELENS__"):
            continue
        parts = [p.lower() for p in key.removeprefix("SERVICELENS__").split("__") if p]
        if not parts:
            continue
        node = overrides
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = yaml.safe_load(raw) if raw else None
    return overrides


def _deep_merge(base: dict[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), dict):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def parse_config(
    data: Any, source: str = "<config>", environ: Mapping[str, str] | None = None
) -> ServicelensConfig:
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(source, ["(root): the config must be a mapping of sections"])
    data = _deep_merge(data, _env_overrides(os.environ if environ is None else environ))
    try:
        return ServicelensConfig.model_validate(data)
    except ValidationError as exc:
        errors = [f"{format_location(e['loc'])}: {e['msg']}" for e in exc.errors()]
        raise ConfigError(source, errors) from None


def load_config(
    path: str | Path | None = None, environ: Mapping[str, str] | None = None
) -> ServicelensConfig:
    """Load the config: the given path, else ``$SERVICELENS_CONFIG``, else ./servicelens.yaml, else defaults."""
    env = os.environ if environ is None else environ
    chosen = (
        Path(path) if path else (Path(env["SERVICELENS_CONFIG"]) if env.get("SERVICELENS_CONFIG") else None)
    )
    if chosen is None:
        chosen = DEFAULT_CONFIG_PATH if DEFAULT_CONFIG_PATH.exists() else EXAMPLE_CONFIG_PATH
    if not chosen.exists():
        raise ConfigError(str(chosen), ["(file): not found"])
    try:
        data = yaml.safe_load(chosen.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "(file)"
        raise ConfigError(str(chosen), [f"{where}: not valid YAML: {getattr(exc, 'problem', exc)}"]) from None
    return parse_config(data, str(chosen), env)
