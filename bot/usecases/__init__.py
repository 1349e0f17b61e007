"""The application layer: what staff, clients and the worker do, over a unit of work and a clock."""
