"""SLA engine: policies as data, business-hours calendars, clocks with pauses. Pure: polars in, polars out.

Public API (all take the canonical tables of ``servicelens.model`` as LazyFrames and an explicit ``now``):

* ``sla.evaluate.evaluate(interactions, events, config, now)`` -> one row per interaction x metric x cycle
  (``RESULT_COLUMNS``); ``evaluate_detailed`` adds calendar, start, pause and warning columns;
  ``evaluate_subset(..., interaction_ids)`` re-evaluates only the given interactions.
* ``sla.compliance.compliance(results, interactions, by=[...], config)`` -> rates with ``n``.
* ``sla.compliance.compliance_in_slices(slices, config, now, by)`` with
  ``sla.evaluate.slices_by_interaction(interactions, events, per_slice)`` -> the same frame as ``compliance``
  over a history read one range of interactions at a time (lazy scans, e.g. parquet sorted by interaction_id).
* ``sla.timeline.timeline(interactions, events, config, now, interaction_id)`` -> one interaction's clocks.
* ``sla.calendar.CalendarTable`` -> business time as polars expressions (``business_us``, ``with_instant``).
"""
