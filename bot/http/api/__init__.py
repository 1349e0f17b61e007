"""The staff API (CONTRACT.md, "Staff API"): JSON routes over the use cases."""
