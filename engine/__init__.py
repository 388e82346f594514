"""Sanshe engine: deployments, runtime, persistence, jobs, timers and the event log.

This package imports no web framework and no worker code.
"""
