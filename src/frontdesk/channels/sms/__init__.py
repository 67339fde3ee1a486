"""The SMS channel (Twilio-compatible REST API and webhooks)."""
