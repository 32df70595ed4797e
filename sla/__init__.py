"""SLA engine: policies as data, business-hours calendars, clocks with pauses. Pure: polars in, polars out."""
