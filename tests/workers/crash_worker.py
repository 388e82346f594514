"""A real worker process for the crash tests: the registered handlers, slowed down a little
after their effect (inside the job's transaction) so that a kill lands mid-job.

Usage: python -m tests.workers.crash_worker DATABASE_URL LOCK_SECONDS
"""
import sys
import time

from engine.config import load_settings
from engine.wiring import build_services
from workers.registry import TOPICS
from workers.worker import run_workers


def slowed(handler):
    def handle(job):
        result = handler(job)
        time.sleep(0.02)
        return result
    return handle


if __name__ == "__main__":
    url, lock_seconds = sys.argv[1], int(sys.argv[2])
    services = build_services(load_settings(database_url=url))
    run_workers(services, {topic: slowed(h) for topic, h in TOPICS.items()}, max_jobs=3,
                lock_seconds=lock_seconds, poll_seconds=0.1)
