"""Delivery: the released answer leaves by e-mail (`innsyn send CASE`, SMTP).

- `send`: what is sent, to whom, once per release, and the SMTP conversation;
- `flow`: the Prefect flow and its task, which retries transient failures with backoff.
"""
