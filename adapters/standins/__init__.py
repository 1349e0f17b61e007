"""Local stand-ins of the providers' HTTP APIs, served on loopback for tests and the sandbox."""
