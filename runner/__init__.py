"""Run plumbing for train.py: config checks, run records, the printed summary."""
from .checks import ConfigError, check_config
from .record import collect_metrics, write_metrics_json
from .summary import print_summary

__all__ = ["ConfigError", "check_config", "collect_metrics", "write_metrics_json", "print_summary"]
