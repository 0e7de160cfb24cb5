"""Background reprocessing: every derived thing rebuilt from the items in PostgreSQL.

Modules, in the order a long job moves through them:

- `request`: the gateway's side: who may ask for what, and the job row it makes;
- `progress`: a long job's checkpoint and progress, kept in its row;
- `steps`: a long job as a chain of short tasks, one at a time, each resuming at
  the last checkpoint;
- `pages`: a page of items chunked, embedded in a background slot and placed
  into a generation under each user's lock;
- `reindex`: a new generation built, caught up and switched in, or users
  re-embedded in place; retired generations dropped;
- `verify`: the active generation compared with its chunk rows, and repaired;
- `rebuild`: stored summaries computed again.
"""
