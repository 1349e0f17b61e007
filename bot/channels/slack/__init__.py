"""Slack: the webhook, the Bolt app's handlers, the staff-inbox mirror."""
