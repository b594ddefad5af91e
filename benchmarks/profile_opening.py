"""Where an opening's time goes: a pyinstrument profile of Walsall incidents opened through the API.

The open_load benchmark's opening (the Walsall playbook, 12 leads), in one
process through the Flask test client, with nothing sent (the outbox is
only written): the request from the bearer token to the commit. Prints the
profile's top lines and the share of the request each part takes.

    .venv/bin/python benchmarks/profile_opening.py [--opens 20] [--database-url URL]

Without --database-url it uses a temporary SQLite file. A PostgreSQL URL
must name a scratch database ending in _bench: it is dropped and re-created.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pyinstrument import Profiler  # noqa: E402

from benchmarks.open_load import seed, walsall_opening  # noqa: E402
from benchmarks.scheduler_scale import prepare_database  # noqa: E402
from responder import create_app  # noqa: E402
from responder.extensions import db  # noqa: E402
from responder.operations.heap import freeze_start_up_objects  # noqa: E402

WARM_UP = 3
# The parts of an opening, by the function that does each (as pyinstrument names frames).
PARTS = {
    "ORM flush (writing the rows)": "flush",
    "activating agencies (rows built, messages rendered)": "activate_agencies",
    "the 201 answer (the incident read back)": "incident_body",
    "commit": "finish_unit_of_work",
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--opens", type=int, default=20)
    parser.add_argument("--database-url", default=None, help="scratch database (default: temporary SQLite)")
    args = parser.parse_args()
    url = prepare_database(args.database_url)
    token = seed(url)
    app = create_app("testing", {"SQLALCHEMY_DATABASE_URI": url, "PLAYBOOKS_DIR": str(ROOT / "playbooks")})
    with app.app_context():
        client = app.test_client()
        freeze_start_up_objects()  # as wsgi.py does once the app is built
        for _ in range(WARM_UP):
            open_one(client, token)
        profiler = Profiler(interval=0.0005)
        profiler.start()
        for _ in range(args.opens):
            open_one(client, token)
        session = profiler.stop()
        db.engine.dispose()
    report(profiler, session, args.opens, url.split(":", 1)[0])


def open_one(client, token: str, body: dict | None = None) -> None:
    """Open an incident through the test client: ``body``, or a Walsall opening."""
    response = client.post(
        "/api/v1/incidents", json=body or walsall_opening(), headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 201, response.get_data(as_text=True)


def report(profiler: Profiler, session, opens: int, database: str) -> None:
    total = session.duration
    print(f"{opens} Walsall openings through the API on {database}: {total * 1000 / opens:.1f} ms each")
    print(f"(profiled, so slower than unprofiled; CPU {session.cpu_time:.2f} s of {total:.2f} s)")
    print()
    root = session.root_frame()
    for label, function in PARTS.items():
        seconds = sum(
            frame.time
            for frame in _frames(root)
            if frame.function == function and _outermost(frame, function)
        )
        print(f"{label:<55} {seconds / total:6.1%}")
    print()
    print(profiler.output_text(unicode=False, color=False, show_all=False)[:6000])


def _frames(frame):
    yield frame
    for child in frame.children:
        yield from _frames(child)


def _outermost(frame, function: str) -> bool:
    parent = frame.parent
    while parent is not None:
        if parent.function == function:
            return False
        parent = parent.parent
    return True


if __name__ == "__main__":
    main()
