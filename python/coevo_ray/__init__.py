"""coevo's Ray driver: the host starts it (``python -m coevo_ray``) and sends it batches of
jobs; it runs them on ``coevo worker`` processes held by Ray actors and answers in order."""
