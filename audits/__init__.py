"""QA audits: scorecards, sampling, scoring, automatic protocol checks, calibration. Pure: no I/O.

config (scorecards, sampling plan, checks) -> scoring (reviews, revisions, disputes) -> results (frames,
scores by unit and item); sampling (batches, auditor assignment); checks + check_registry (protocol
checks on transcripts); agreement (checks versus auditors); calibration (Krippendorff's alpha);
stats (Wilson intervals, sample sizes).
"""
