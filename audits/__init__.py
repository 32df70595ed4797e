"""QA audits: scorecards, sampling, scoring, automatic protocol checks, calibration. Pure: no I/O."""
