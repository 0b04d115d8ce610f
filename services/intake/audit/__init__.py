"""The audit log: who issued tokens, logged in, exported, or read a resident's personal data, and when."""
