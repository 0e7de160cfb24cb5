"""Webhooks on the Standard Webhooks specification, in both directions.

Modules, in the order the data moves:

Inbound, a producer's signed events:
- `secrets`: `whsec_` secrets, and signing and verifying with `standardwebhooks`;
- `sources`: the producers an admin registered, each with its secret (rotated
  with a grace period) and an optional `mapping`;
- `mapping`: a producer's own JSON read with JMESPath into an ingest request;
- `inbound`: verify the raw body, then map it and accept it like `/ingest`.

Outbound, events to the organization's endpoints:
- `endpoints`: the receivers an admin registered, and the events each wants;
- `outbox`: an event written in the transaction of the change it reports, with
  one delivery per subscribed endpoint;
- `addresses`: where a delivery may connect (no private address by default);
- `deliver`: claim a due delivery, send it signed, record the attempt, retry
  on a schedule, disable an endpoint that keeps failing.

This package's `__init__` imports nothing: the gateway uses it freely.
"""
