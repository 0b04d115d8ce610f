"""The organisation of intake: streets, their communities, the parties, and the workers who serve them."""
