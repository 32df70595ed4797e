"""servicelens: service-quality audit and SLA monitoring for multi-site service organisations."""

__version__ = "0.1.0"
