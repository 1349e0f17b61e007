"""The HTTP shell: the app factory, the staff API, the web inbox, and what wraps every request."""
