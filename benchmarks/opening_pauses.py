"""The alert fan-out's opening, back to back and after pauses: how much a quiet machine slows it.

The opening of ``benchmarks/alert_fanout.py`` (40 leads, through ``POST
/api/v1/incidents``, its settings) with no sender running, so that nothing
else runs in between: timed back to back, then each after a pause of 0.02, 0.1, 0.4 and
1 s. Prints, per pause, the median wall time and process CPU time of the
opening and how many statements it sent. In the fan-out benchmark every
opening follows the previous one's sending (about 0.3 s of waiting), as an
opening at 2 a.m. follows a quiet hour. Not part of ``make bench``: it
explains the fan-out figure rather than being one.

    .venv/bin/python benchmarks/opening_pauses.py [--openings 7] [--database-url URL]

Without --database-url it uses a temporary SQLite file. A PostgreSQL URL must
name a scratch database whose name ends in _bench: it is dropped and re-created.
"""

from __future__ import annotations

import argparse
import logging
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.alert_fanout import (  # noqa: E402
    LEADS,
    fanout_app,
    opening_body,
    provider_settings,
    providers,
    seed_leads,
    statements_of_this_thread,
    write_playbooks,
)
from benchmarks.profile_opening import open_one  # noqa: E402
from benchmarks.scheduler_scale import prepare_database  # noqa: E402
from responder.extensions import db  # noqa: E402
from responder.operations.heap import freeze_start_up_objects  # noqa: E402

PAUSES = (0.0, 0.02, 0.1, 0.4, 1.0)
WARM_UP = 3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--openings", type=int, default=7, help="timed openings per pause")
    parser.add_argument("--database-url", default=None, help="scratch database (default: temporary SQLite)")
    args = parser.parse_args()
    logging.disable(logging.INFO)  # one JSON line per request would be timed too
    with tempfile.TemporaryDirectory() as scratch, providers() as (fake, smtp_port):
        folder = Path(scratch)
        write_playbooks(folder)
        url = prepare_database(args.database_url) if args.database_url else f"sqlite:///{folder / 'bench.db'}"
        # The fan-out's settings, but nothing sent: the messages wait in the outbox table.
        app = fanout_app(folder, url, provider_settings(fake, smtp_port), send_after_commit=False)
        with app.app_context():
            token = seed_leads()
            client = app.test_client()
            freeze_start_up_objects()  # as wsgi.py does once the app is built
            for _ in range(WARM_UP):
                open_one(client, token, opening_body())
            print(
                f"The fan-out's opening ({LEADS} leads), no sender running; database: {url.split(':', 1)[0]}"
            )
            print(" pause    wall (median)   CPU (median)   statements")
            for pause in PAUSES:
                walls, cpus = [], []
                with statements_of_this_thread() as statements:
                    for _ in range(args.openings):
                        time.sleep(pause)
                        wall, cpu = time.perf_counter(), time.process_time()
                        open_one(client, token, opening_body())
                        walls.append(time.perf_counter() - wall)
                        cpus.append(time.process_time() - cpu)
                print(
                    f"{pause:5.2f} s {statistics.median(walls) * 1000:11.0f} ms"
                    f" {statistics.median(cpus) * 1000:11.0f} ms {statements.count / args.openings:12.0f}"
                )
            db.engine.dispose()


if __name__ == "__main__":
    main()
