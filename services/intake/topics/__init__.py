"""Hot topics: what a community's residents raised most in a week, and what rose against the week before."""
