"""A generic HTTP SMS gateway with configurable JSON field mappings and HMAC."""
