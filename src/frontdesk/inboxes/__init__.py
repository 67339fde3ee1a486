"""What every channel shares, below `conversations/`: the Inbox model and repository, who
may see an inbox, and the channel port (Inbound, Outbound, ChannelAdapter and its
capabilities, the channel registry and the runner hook). It imports no channel (ADR 0006)."""
