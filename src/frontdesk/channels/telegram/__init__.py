"""The Telegram channel: a bot's updates in (webhook or long polling), Bot API calls out."""
