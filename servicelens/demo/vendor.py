"""The demo organisation in its helpdesks' own export formats, one folder per helpdesk.

Each site ran Zendesk or Freshdesk before the merger onto one reporting platform (``Location.helpdesk``).
For every chunk of interactions each helpdesk's folder ``<source>/`` gets the files a user saves from that
helpdesk's API: Zendesk incremental export pages with their sideloads, audit pages and satisfaction rating
pages, NPS and CES in ticket custom fields; Freshdesk tickets with ``stats``, conversations, satisfaction
ratings whose custom questions hold NPS and CES, and its agents, companies and groups. The real parsers in ``connectors/`` read each folder as an export, joining names and ratings across
its files. See docs/demo.md for the files and the field mapping.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl

from servicelens.demo import freshdesk_export, zendesk_export
from servicelens.demo.organisation import LOCATIONS

# helpdesk -> (connector kind, writer of one chunk)
HELPDESKS = {
    "zendesk": ("zendesk_files", zendesk_export.write_chunk),
    "freshdesk": ("freshdesk_files", freshdesk_export.write_chunk),
}
# helpdesk -> connector options that name where its exports keep the NPS and CES answers
SURVEY_OPTIONS: dict[str, dict[str, Any]] = {
    "zendesk": {"nps_field": zendesk_export.NPS_FIELD_ID, "ces_field": zendesk_export.CES_FIELD_ID},
    "freshdesk": {
        "nps_question": freshdesk_export.NPS_QUESTION,
        "ces_question": freshdesk_export.CES_QUESTION,
    },
}


def helpdesk_sources() -> dict[str, str]:
    """``source`` value -> helpdesk, for the helpdesks the demo sites ran on."""
    return {f"demo-{loc.helpdesk}": loc.helpdesk for loc in LOCATIONS}


class VendorExportWriter:
    """Writes each chunk of the organisation as the export files of each site's helpdesk."""

    def __init__(self, out_dir: Path):
        self.out_dir = out_dir
        self.files: list[Path] = []

    def write(self, number: int, interactions: pl.DataFrame, events: pl.DataFrame) -> None:
        for source, helpdesk in helpdesk_sources().items():
            rows = interactions.filter(pl.col("source") == source)
            if rows.is_empty():
                continue
            history = events.filter(pl.col("interaction_id").str.starts_with(source + ":"))
            folder = self.out_dir / source
            folder.mkdir(parents=True, exist_ok=True)
            for name, text in HELPDESKS[helpdesk][1](rows, history, number).items():
                path = folder / name
                path.write_text(text + "\n", encoding="utf-8", newline="\n")
                self.files.append(path)


def vendor_connectors(out_dir: Path) -> list[dict[str, Any]]:
    """Config entries (``connectors:`` list items) that read the folders written by :class:`VendorExportWriter`.

    Each connector's ``source`` is the demo source name, so interaction ids are the same as in the generic
    format (``demo-zendesk:10001``); the survey options name the custom fields / questions holding NPS and
    CES.
    """
    entries = []
    for source, helpdesk in sorted(helpdesk_sources().items()):
        folder = out_dir / source
        if folder.is_dir():
            entry = {"kind": HELPDESKS[helpdesk][0], "name": source, "source": source, "path": str(folder)}
            entries.append(entry | SURVEY_OPTIONS[helpdesk])
    return entries
