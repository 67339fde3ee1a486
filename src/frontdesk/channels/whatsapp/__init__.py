"""The WhatsApp Business (Cloud API) channel."""
