"""Telegram: the webhook, the bot's handlers and buttons, its CLI."""
