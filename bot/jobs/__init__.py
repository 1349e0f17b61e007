"""Work done later: the worker loop, the inbound journal, the wake-up between processes."""
