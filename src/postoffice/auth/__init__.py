"""Authentication: credentials (passwords), SASL mechanisms (sasl), login throttling (throttle)."""
