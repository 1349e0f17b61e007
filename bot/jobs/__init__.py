"""Work done later: the worker loop and the wake-up between processes (the inbound journal
the webhooks write to: storage/journal.py)."""
