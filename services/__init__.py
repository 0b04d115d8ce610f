"""linli's services, one package each: intake, retrieval and routing."""
