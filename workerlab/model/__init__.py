"""A model of a run (interval, lead, start-up and restart costs, MTBF): simulated and calibrated."""
