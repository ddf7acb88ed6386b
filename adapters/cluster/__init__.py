"""Several sendtrail processes on one PostgreSQL store: who is alive, who works on what.

- ``workers``: each process's row in ``sendtrail_workers``, kept fresh by a heartbeat;
- ``delivery_claims`` and ``notification_claims``: work taken with row locks, released when
  done, taken over when the worker holding it stops beating;
- ``domain_limits``: per-domain connection and rate limits shared by all workers;
- ``wakeups``: ``LISTEN/NOTIFY``, so that a worker learns of new work at once without
  polling hard.

Nothing here is used on the embedded SQLite store, where one process does all the work.
"""
