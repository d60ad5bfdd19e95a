"""Run plumbing for train.py: config checks, run records, the printed summary."""
from .checks import ConfigError, check_config
from .launch import LaunchError, process_facts  # importing it registers the run-folder resolvers
from .record import collect_metrics, write_metrics_json
from .summary import print_summary

__all__ = ["ConfigError", "LaunchError", "process_facts", "check_config", "collect_metrics", "write_metrics_json", "print_summary"]
