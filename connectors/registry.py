"""Which parser reads which connector kind, and which files of a connector's ``path`` it reads."""

from __future__ import annotations

import glob
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from connectors.base import Batch
from connectors.config import (
    FileConnector,
    FreshdeskFilesConfig,
    IntercomFilesConfig,
    ServicenowCsvConfig,
    TabularFilesConfig,
    ZammadFilesConfig,
    ZendeskFilesConfig,
)
from connectors.freshdesk import parse_freshdesk_file
from connectors.freshdesk_lookups import collect_freshdesk_lookups
from connectors.intercom import parse_intercom_file
from connectors.parsing import REPLICATION_KEY, ParsedFile
from connectors.servicenow import parse_servicenow_csv
from connectors.tabular import parse_tabular_file
from connectors.zammad import parse_zammad_file
from connectors.zendesk import parse_zendesk_file
from connectors.zendesk_context import collect_zendesk_context
from connectors.zendesk_pages import ZendeskFolderParser

__all__ = [
    "FILE_FORMATS",
    "REPLICATION_KEY",
    "FileFormat",
    "connector_files",
    "file_parser",
    "parse_connector_files",
]

_JSON = (".json", ".jsonl", ".ndjson")


@dataclass(frozen=True)
class FileFormat:
    """A file connector kind: its config model, the file suffixes it reads and its parser."""

    config: type[FileConnector]
    suffixes: tuple[str, ...]
    parse: Callable[[Path, Any], ParsedFile]


def _batch_only(parse: Callable[[Path, Any], Batch]) -> Callable[[Path, Any], ParsedFile]:
    return lambda path, config: ParsedFile(parse(path, config))


FILE_FORMATS: dict[str, FileFormat] = {
    "zendesk_files": FileFormat(ZendeskFilesConfig, _JSON, parse_zendesk_file),
    "freshdesk_files": FileFormat(FreshdeskFilesConfig, (*_JSON, ".csv"), parse_freshdesk_file),
    "servicenow_csv": FileFormat(ServicenowCsvConfig, (".csv",), _batch_only(parse_servicenow_csv)),
    "zammad_files": FileFormat(ZammadFilesConfig, _JSON, parse_zammad_file),
    "intercom_files": FileFormat(IntercomFilesConfig, _JSON, parse_intercom_file),
    "tabular_files": FileFormat(
        TabularFilesConfig, (".csv", ".xlsx", ".xlsm"), _batch_only(parse_tabular_file)
    ),
}


def connector_files(config: FileConnector, base_dir: Path | None = None) -> list[Path]:
    """The files a connector reads, sorted by name: every file of a folder, or the matches of a glob.

    Only suffixes the kind can read are taken; relative paths are relative to ``base_dir`` (default: cwd).
    """
    file_format = FILE_FORMATS[_kind(config)]
    root = Path(config.path).expanduser()
    if not root.is_absolute() and base_dir is not None:
        root = base_dir / root
    candidates = sorted(root.iterdir()) if root.is_dir() else sorted(Path(p) for p in glob.glob(str(root)))
    return [p for p in candidates if p.is_file() and p.suffix.lower() in file_format.suffixes]


def file_parser(config: FileConnector, context_files: list[Path]) -> Callable[[Path], ParsedFile]:
    """The parser of one file of this connector.

    ``context_files`` are every readable file of the connector, including files already loaded: reference
    data kept in files of its own (Zendesk users, groups, organizations, ratings; Freshdesk groups, agents,
    companies, ticket_fields, ratings) is read from them.
    """
    kind = _kind(config)
    if kind not in FILE_FORMATS:
        raise KeyError(f"no file parser for connector kind {kind!r}; known: {sorted(FILE_FORMATS)}")
    if isinstance(config, FreshdeskFilesConfig):
        lookups = collect_freshdesk_lookups(context_files)
        return lambda path: parse_freshdesk_file(path, config, lookups)
    if isinstance(config, ZendeskFilesConfig):
        context = collect_zendesk_context(context_files, options=config)
        return ZendeskFolderParser(config, context, context_files)
    parse = FILE_FORMATS[kind].parse
    return lambda path: parse(path, config)


def parse_connector_files(config: FileConnector, files: list[Path]) -> Iterator[tuple[Path, ParsedFile]]:
    """Parse the given files of one connector, one :class:`ParsedFile` per file, in order."""
    parse = file_parser(config, files)
    for path in files:
        yield path, parse(path)


def _kind(config: FileConnector) -> str:
    return str(getattr(config, "kind", ""))
