"""SMS and voice through Twilio: the webhooks."""
