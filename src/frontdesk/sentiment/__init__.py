"""Sentiment of customers' messages in Arabic, Persian and English: a label and score per
inbound message, a trend and a frustrated flag per conversation, and rules that react."""
