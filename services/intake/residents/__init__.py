"""What linli keeps about residents, and erasing it: on request (PIPL art. 47, erasure.py) or when its retention ends
(retention.py); both anonymize tickets the same way (anonymization.py)."""
