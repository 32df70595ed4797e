"""Connectors: declarative streams that map helpdesk exports and APIs into the canonical model."""
