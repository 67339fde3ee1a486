"""Messenger and Instagram (the Graph API Messenger Platform): one package, two channels that
share the webhook, the Send API client and the public-comment actions."""
