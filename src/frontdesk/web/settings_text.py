"""The words of the Settings pages that come from code, not templates: channel names, field
labels, what to paste where in each provider's console, and error messages by code. English
here; Arabic and Persian in locale/*/messages.po (tests/web/test_settings.py checks each)."""

from __future__ import annotations

from frontdesk.web.rendering import CHANNEL_ICONS as CHANNEL_ICONS  # one glyph per channel

CHANNEL_NAMES = {
    "api": "API", "email": "E-mail", "webchat": "Website chat", "sms": "SMS (Twilio)",
    "sms_gateway": "SMS gateway", "whatsapp": "WhatsApp", "telegram": "Telegram",
    "messenger": "Messenger", "instagram": "Instagram", "voice": "Voice",
    "cti": "Phone system (CTI)",
}  # fmt: skip

# One sentence per channel: what to paste where in the provider's console.
CONSOLE_HINTS = {
    "api": "Your system posts messages to the inbound URL, signed with the inbox secret "
    "(X-Frontdesk-Signature); replies are posted to the webhook URL you set here.",
    "email": "Point your domain's mail (MX or a forwarding rule) at Frontdesk's SMTP "
    "listener, or let Frontdesk fetch the mailbox over IMAP; replies leave through the relay.",
    "webchat": "Paste the snippet before </body> on every page of your website.",
    "sms": "In the Twilio Console, open the number's Messaging configuration and paste the "
    "webhook URL under “A message comes in” (HTTP POST).",
    "sms_gateway": "In your gateway's settings, send incoming messages to the webhook URL and "
    "delivery reports to the webhook URL followed by /status, signed with the HMAC secret.",
    "whatsapp": "In Meta's App Dashboard, open WhatsApp > Configuration, paste the webhook URL "
    "as Callback URL and the verify token as Verify token, then subscribe to messages.",
    "messenger": "In Meta's App Dashboard, open Messenger > Webhooks, paste the webhook URL as "
    "Callback URL and the verify token as Verify token, then subscribe the Page to messages.",
    "instagram": "In Meta's App Dashboard, open Instagram > Webhooks, paste the webhook URL as "
    "Callback URL and the verify token as Verify token, then subscribe to messages.",
    "telegram": "Telegram has no console for this: press Register webhook and Frontdesk tells "
    "Telegram the webhook URL and the secret token itself.",
    "voice": "In the Twilio Console, open the number's Voice configuration and paste the "
    "webhook URL under “A call comes in” (HTTP POST), and the webhook URL followed by "
    "/status as the call status callback.",
    "cti": "Have your phone system post its call events to the webhook URL, signed with the "
    "signing secret (X-Frontdesk-Signature), or fill in the Asterisk AMI fields and Frontdesk "
    "connects to the PBX itself.",
}

FIELD_LABELS = {
    "access_token": "Access token", "account_sid": "Account SID", "address": "Address",
    "algorithm": "Algorithm", "allowed_origins": "Allowed websites (one per line)",
    "api_base_url": "API address", "app_secret": "App secret", "auth_token": "Auth token",
    "bot_token": "Bot token", "color": "Colour", "default_region": "Default country code",
    "delete_after_import": "Delete mail after import", "enabled": "Enabled",
    "encoding": "Encoding", "error": "Error text", "error_code": "Error code",
    "fetch_profiles": "Fetch names and pictures", "fields": "Fields", "folder": "Folder",
    "from": "Sender", "from_number": "Sender number", "greeting": "Greeting",
    "header": "Header", "help_text": "Answer to HELP", "host": "Host", "id": "Message ID",
    "identity_verification": "Identity verification", "idle": "Use IDLE",
    "imap": "IMAP mailbox", "import_only": "Import only", "inbound_fields": "Incoming fields",
    "language": "Language", "max_upload_bytes": "Largest upload (bytes)", "mode": "Mode",
    "name": "Name", "outbound_fields": "Outgoing fields",
    "outbound_per_minute": "Mails per minute", "outbound_url": "Outbound URL",
    "page_access_token": "Page access token", "page_id": "Page ID", "password": "Password",
    "phone_number_id": "Phone number ID", "poll_seconds": "Poll every (seconds)",
    "poll_timeout_seconds": "Long-poll timeout (seconds)", "port": "Port",
    "prechat": "Pre-chat form", "prefix": "Prefix", "reference": "Reference",
    "reply_token": "Signed Reply-To", "required": "Required fields",
    "response_error": "Error in the answer", "response_id": "Message ID in the answer",
    "rtl": "Right to left", "secret": "HMAC secret", "secret_token": "Secret token",
    "security": "Security", "signing": "Signing", "smtp": "SMTP relay",
    "status": "Status", "status_fields": "Status fields", "text": "Text",
    "text_color": "Text colour", "timeout_seconds": "Timeout (seconds)", "title": "Title",
    "to": "Recipient", "trusted_authserv_id": "Trusted authserv-id",
    "upload_types": "Accepted file types (one per line)", "username": "User name",
    "verify_tls": "Verify TLS certificates", "verify_token": "Verify token",
    "webhook_url": "Webhook URL", "phone_number": "Phone number",
    "languages": "Languages of the menu", "welcome_audio_url": "Welcome audio file (URL)",
    "queue_choices": "Menu choices (one per line: DIGIT=QUEUE_ID LABEL)",
    "hold_music_url": "Hold music (URL)", "open_days": "Open on",
    "opens_at": "Opens at (HH:MM)", "closes_at": "Closes at (HH:MM)", "timezone": "Time zone",
    "record_calls": "Record answered calls", "voicemail_max_seconds": "Longest voicemail (seconds)",
    "ar": "Arabic prompts", "fa": "Persian prompts", "en": "English prompts",
    "menu_text": "Menu text", "menu_audio_url": "Menu audio file (URL)",
    "voicemail_text": "Voicemail text", "voicemail_audio_url": "Voicemail audio file (URL)",
    "retention_days": "Delete recordings and transcripts after (days)",
    "signing_secret": "Signing secret", "ami_host": "Asterisk AMI host",
    "ami_port": "AMI port", "ami_username": "AMI user name", "ami_secret": "AMI secret",
    "ami_channel": "Agent phone channel (click-to-call)",
    "ami_context": "Dialplan context (click-to-call)",
    "calls": "Calls from the widget (audio, video, screen sharing)",
}  # fmt: skip

# Values of select fields that are words, not codes (codes such as "en" or "sha256" are
# shown as they are).
OPTION_LABELS = {
    "none": "None", "starttls": "STARTTLS", "tls": "TLS", "webhook": "Webhook",
    "polling": "Polling", "hex": "Hex", "base64": "Base64", "email": "E-mail",
    "name": "Name", "en": "English", "ar": "Arabic", "fa": "Persian",
    "mon": "Monday", "tue": "Tuesday", "wed": "Wednesday", "thu": "Thursday", "fri": "Friday",
    "sat": "Saturday", "sun": "Sunday",
}  # fmt: skip

# What the agent reads when the service refuses, by error code (never the raw message).
SETTINGS_ERRORS = {
    "invalid": "Some settings are not valid: check the highlighted fields.",
    "invalid_settings": "Some settings are not valid: check the highlighted fields.",
    "invalid_url": "Enter a full web address starting with http:// or https://.",
    "forbidden_url": "That address points into a private network, which is not allowed.",
    "invalid_host": "That server name could not be found.",
    "invalid_address": "The inbox address cannot contain '+'.",
    "unknown_team": "One of the chosen teams no longer exists.",
    "unsupported_channel": "That channel is not installed.",
    "provider_refused": "The provider refused:",
    "provider_unreachable": "The provider could not be reached:",
    "other": "That did not work. Check the form and try again.",
}
FIELD_ERRORS = {
    "missing": "This field is required.",
    "invalid": "This value is not accepted.",
}
