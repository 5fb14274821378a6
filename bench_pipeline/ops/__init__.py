"""Operations: what keeps a deployment running day to day — storage tiers, the operations
settings, watched repositories, the drop folder, alerts, and the ``doctor``'s checks."""
