"""SLA engine: policies as data, business-hours calendars, clocks with pauses. Pure: polars in, polars out.

Public API (all take the canonical tables of ``servicelens.model`` as LazyFrames and an explicit ``now``):

* ``sla.evaluate.evaluate(interactions, events, config, now)`` -> one row per interaction x metric x cycle
  (``RESULT_COLUMNS``); ``evaluate_detailed`` adds calendar, start, pause and warning columns;
  ``evaluate_subset(..., interaction_ids)`` re-evaluates only the given interactions.
* ``sla.compliance.compliance(results, interactions, by=[...], config)`` -> rates with ``n``.
* ``sla.timeline.timeline(interactions, events, config, now, interaction_id)`` -> one interaction's clocks.
* ``sla.calendar.CalendarTable`` -> business time as polars expressions (``business_us``, ``with_instant``).
"""
