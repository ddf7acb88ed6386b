"""sendtrail's benchmarks: ``make bench`` runs them and records figures in docs/."""
