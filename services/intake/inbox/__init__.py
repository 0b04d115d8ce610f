"""The worker's inbox on the server: status sets, sorting, cursor pages, assignment, saved views, bulk actions."""
