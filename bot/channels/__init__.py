"""Each channel's application code in one folder: webhook route, handlers, buttons, commands,
its CLI."""
