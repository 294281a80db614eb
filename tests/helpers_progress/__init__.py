"""Helpers for tests/test_progress.py that must be importable by spawned processes."""
