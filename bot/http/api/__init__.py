"""The staff API (docs/CONTRACT.md, "Staff API"): JSON routes over the use cases."""
