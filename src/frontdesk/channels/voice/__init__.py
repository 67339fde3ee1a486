"""The voice channel: phone calls through a Twilio-compatible voice provider (TwiML IVR)."""
