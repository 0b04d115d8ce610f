"""The conversation on a ticket: messages between the resident and the party handling it, and workers' notes."""
