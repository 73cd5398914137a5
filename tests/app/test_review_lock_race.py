"""The lock a reloaded editor takes survives the release its old page sent as it unloaded.

tests/browser/test_review_editor.py failed about 1 run in 8 with bob not seeing alice's
lock after her reload. The old page's pagehide DELETE (with its token) and the new page's
POST /lock reach the server together: the release reads the lock (token matches), the take
renews it and commits, and the release then deletes the row by its id: the renewed lock is
gone. (pysqlite begins a transaction only at the first write, so the read is no guard.)
Here the take is run exactly between the release's read and its DELETE.
"""

from __future__ import annotations

from review_helpers import login
from sqlalchemy import event, select

from medialib_app.review import db as review_db
from medialib_app.review.api import take_lock
from medialib_app.review.models import Lock


def test_a_late_release_does_not_free_the_lock_the_reloaded_page_took(users, lecture):
    alice = login(users, "tanya")
    factory = users.state.review.db
    old = alice.post(f"/api/lectures/{lecture}/en/lock", json={}).json()   # the old page's take
    engine = factory.kw["bind"]
    fired = []

    def reloaded_page_takes(conn, cursor, statement, params, context, executemany):
        # the release's first write (its flush may put the audit row before the DELETE): before it, pysqlite
        # has begun no transaction, so the take on another connection commits as a concurrent request's would
        first_write = statement.lstrip().upper().startswith(("DELETE FROM LOCKS", "INSERT INTO AUDIT"))
        if first_write and not fired:
            fired.append(statement)
            with review_db.transaction(factory) as db:   # the new page's POST /lock, on another connection
                take_lock(db, lecture, "en", "tanya", 90)

    event.listen(engine, "before_cursor_execute", reloaded_page_takes)
    try:
        alice.delete(f"/api/lectures/{lecture}/en/lock", params={"token": old["token"]})
    finally:
        event.remove(engine, "before_cursor_execute", reloaded_page_takes)
    assert fired, "the release never reached its DELETE"
    with review_db.transaction(factory) as db:
        lock = db.scalar(select(Lock).where(Lock.lecture == lecture, Lock.lang == "en"))
    assert lock is not None and lock.holder == "tanya", "the reloaded page's lock was released by the old page"
