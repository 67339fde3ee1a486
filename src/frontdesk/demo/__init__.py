"""The demo's pretend outside world (development only, ADR 0006 keeps it outside channels/):
built-in providers our adapters talk to (`providers`), the customer's phone (`phone`), the
outbound mail sink (`mail`) and the seeded history (`history`), mounted by `views`. It
imports no channel: it speaks the providers' documented wire formats itself and reads inbox
secrets through the inboxes domain."""
