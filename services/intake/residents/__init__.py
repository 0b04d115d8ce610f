"""What linli keeps about residents, and erasing it: on request (PIPL art. 47) or when its retention ends."""
