"""Replay: regenerate every store's attributes and catalog entry from stored documents."""

from ._replay import find_log, find_logs, replay_runs, run_log
from ._report import ReplayReport

__all__ = ["ReplayReport", "find_log", "find_logs", "replay_runs", "run_log"]
